import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { DeletionResult } from '../common/dto/page-info.type.js';
import { ItemsFilter, UpsertItemInput } from './dto/item.input.js';
import { Item, ItemConnection, PopularItem } from './dto/item.type.js';
import { ItemsArgs, PopularItemsArgs } from './dto/popular-items.args.js';
import { ItemsService } from './items.service.js';
import { Requires } from '../auth/roles.js';

@Resolver(() => Item)
@Requires('READER')
export class ItemsResolver {
  constructor(private readonly itemsService: ItemsService) {}

  @Query(() => Item, { description: 'One item by id; NOT_FOUND if unknown.' })
  item(@Args('id', { type: () => ID }) id: string): Promise<Item> {
    return this.itemsService.get(id);
  }

  @Query(() => ItemConnection, { description: 'Catalog items in creation order, cursor-paginated.' })
  items(
    @Args() args: ItemsArgs,
    @Args('filter', { type: () => ItemsFilter, nullable: true }) filter?: ItemsFilter,
  ): Promise<ItemConnection> {
    return this.itemsService.list(filter, args.first, args.after);
  }

  @Query(() => [PopularItem], {
    description: 'Most interacted-with visible items, optionally since a time, in a category and weighted by kind.',
  })
  popularItems(@Args() args: PopularItemsArgs): Promise<PopularItem[]> {
    return this.itemsService.popular(args);
  }

  @Requires('WRITER')
  @Mutation(() => [Item], { description: 'Creates or updates up to RECODER_MAX_BATCH_SIZE items in one transaction.' })
  upsertItems(@Args('items', { type: () => [UpsertItemInput] }) items: UpsertItemInput[]): Promise<Item[]> {
    return this.itemsService.upsert(items);
  }

  @Requires('WRITER')
  @Mutation(() => Item, { description: 'Hides an item from recommendations and popularity, or shows it again.' })
  setItemHidden(@Args('itemId', { type: () => ID }) itemId: string, @Args('hidden') hidden: boolean): Promise<Item> {
    return this.itemsService.setHidden(itemId, hidden);
  }

  @Requires('ADMIN')
  @Mutation(() => DeletionResult, { description: 'Deletes an item and all interactions with it.' })
  deleteItem(@Args('itemId', { type: () => ID }) itemId: string): Promise<DeletionResult> {
    return this.itemsService.delete(itemId);
  }
}
