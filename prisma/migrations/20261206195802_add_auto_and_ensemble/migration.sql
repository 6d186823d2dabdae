-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "model_kind" ADD VALUE 'ENSEMBLE';
ALTER TYPE "model_kind" ADD VALUE 'AUTO';

-- AlterTable
ALTER TABLE "training_runs" ADD COLUMN     "candidates" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "stage" VARCHAR(128);
