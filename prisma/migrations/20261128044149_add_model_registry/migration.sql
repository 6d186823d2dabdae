-- CreateEnum
CREATE TYPE "model_kind" AS ENUM ('VAE', 'DAE', 'AUTOREC', 'EASE');

-- CreateTable
CREATE TABLE "model_versions" (
    "id" SERIAL NOT NULL,
    "name" VARCHAR(128) NOT NULL,
    "kind" "model_kind" NOT NULL,
    "hyperparameters" JSONB NOT NULL DEFAULT '{}',
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "interaction_count" BIGINT NOT NULL,
    "data_latest_at" TIMESTAMPTZ(3),
    "item_ids" JSONB NOT NULL,
    "user_ids" JSONB,
    "weights" BYTEA NOT NULL,
    "weights_bytes" INTEGER NOT NULL,
    "training_seconds" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activated_at" TIMESTAMPTZ(3),

    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "active_models" (
    "slot" VARCHAR(64) NOT NULL,
    "version_id" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "active_models_pkey" PRIMARY KEY ("slot")
);

-- CreateIndex
CREATE INDEX "model_versions_created_at_idx" ON "model_versions"("created_at" DESC);

-- AddForeignKey
ALTER TABLE "active_models" ADD CONSTRAINT "active_models_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
