-- CreateEnum
CREATE TYPE "interaction_kind" AS ENUM ('IMPLICIT', 'VIEW', 'CLICK', 'LIKE', 'ADD_TO_CART', 'PURCHASE', 'RATING');

-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "external_id" VARCHAR(256) NOT NULL,
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "items" (
    "id" SERIAL NOT NULL,
    "external_id" VARCHAR(256) NOT NULL,
    "title" VARCHAR(1024),
    "categories" VARCHAR(128)[] DEFAULT ARRAY[]::VARCHAR(128)[],
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "hidden" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "interactions" (
    "id" BIGSERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "item_id" INTEGER NOT NULL,
    "kind" "interaction_kind" NOT NULL DEFAULT 'IMPLICIT',
    "value" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "event_id" VARCHAR(256),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "interactions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_external_id_key" ON "users"("external_id");

-- CreateIndex
CREATE UNIQUE INDEX "items_external_id_key" ON "items"("external_id");

-- CreateIndex
CREATE INDEX "items_categories_idx" ON "items" USING GIN ("categories");

-- CreateIndex
CREATE INDEX "items_hidden_id_idx" ON "items"("hidden", "id");

-- CreateIndex
CREATE UNIQUE INDEX "interactions_event_id_key" ON "interactions"("event_id");

-- CreateIndex
CREATE INDEX "interactions_user_id_occurred_at_id_idx" ON "interactions"("user_id", "occurred_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "interactions_item_id_occurred_at_idx" ON "interactions"("item_id", "occurred_at" DESC);

-- CreateIndex
CREATE INDEX "interactions_occurred_at_item_id_idx" ON "interactions"("occurred_at", "item_id");

-- AddForeignKey
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id") ON DELETE CASCADE ON UPDATE CASCADE;
