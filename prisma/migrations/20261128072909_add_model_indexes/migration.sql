-- CreateTable
CREATE TABLE "model_indexes" (
    "version_id" INTEGER NOT NULL,
    "name" VARCHAR(64) NOT NULL,
    "params" JSONB NOT NULL,
    "bytes" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_indexes_pkey" PRIMARY KEY ("version_id","name")
);

-- AddForeignKey
ALTER TABLE "model_indexes" ADD CONSTRAINT "model_indexes_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
