-- CreateTable
CREATE TABLE "model_populations" (
    "version_id" INTEGER NOT NULL,
    "users" INTEGER NOT NULL,
    "dim" INTEGER NOT NULL,
    "similar_depth" INTEGER NOT NULL DEFAULT 0,
    "data_max_interaction_id" BIGINT,
    "seconds" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_populations_pkey" PRIMARY KEY ("version_id")
);

-- CreateTable
CREATE TABLE "model_population_chunks" (
    "version_id" INTEGER NOT NULL,
    "part" VARCHAR(32) NOT NULL,
    "seq" INTEGER NOT NULL,
    "bytes" BYTEA NOT NULL,

    CONSTRAINT "model_population_chunks_pkey" PRIMARY KEY ("version_id","part","seq")
);

-- AddForeignKey
ALTER TABLE "model_populations" ADD CONSTRAINT "model_populations_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_population_chunks" ADD CONSTRAINT "model_population_chunks_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_populations"("version_id") ON DELETE CASCADE ON UPDATE CASCADE;
