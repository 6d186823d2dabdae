-- CreateTable
CREATE TABLE "item_images" (
    "item_id" INTEGER NOT NULL,
    "size" INTEGER NOT NULL,
    "channels" SMALLINT NOT NULL,
    "pixels" BYTEA NOT NULL,
    "source_type" VARCHAR(16) NOT NULL,
    "source_bytes" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "item_images_pkey" PRIMARY KEY ("item_id")
);

-- AddForeignKey
ALTER TABLE "item_images" ADD CONSTRAINT "item_images_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The storage contract the convolutional item autoencoder reads (written by hand): exactly
-- size·size·channels bytes of row-major HWC uint8 pixels, 1 (grayscale) or 3 (RGB) channels.
ALTER TABLE "item_images" ADD CONSTRAINT "item_images_shape_check" CHECK (
  "channels" IN (1, 3) AND "size" BETWEEN 1 AND 4096 AND octet_length("pixels") = "size" * "size" * "channels"
  AND "source_type" IN ('png', 'jpeg') AND "source_bytes" >= 0
);

-- Every committed change to item_images is announced on "recoder_item_images_changed" (payload
-- "*": readers reload what they need). Statement-level; statements that change no row (an item
-- deleted without an image, an upsert of an unknown item) stay silent.
CREATE FUNCTION recoder_notify_item_images_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('recoder_item_images_changed', '*');
  ELSIF EXISTS (SELECT 1 FROM changed_rows) THEN -- (planned only here: TRUNCATE has no transition table)
    PERFORM pg_notify('recoder_item_images_changed', '*');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER item_images_changed_insert AFTER INSERT ON "item_images"
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_item_images_changed();
CREATE TRIGGER item_images_changed_update AFTER UPDATE ON "item_images"
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_item_images_changed();
CREATE TRIGGER item_images_changed_delete AFTER DELETE ON "item_images"
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_item_images_changed();
CREATE TRIGGER item_images_changed_truncate AFTER TRUNCATE ON "item_images"
  FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_item_images_changed();
