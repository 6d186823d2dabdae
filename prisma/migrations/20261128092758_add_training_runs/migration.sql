-- CreateEnum
CREATE TYPE "training_status" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "activation_policy" AS ENUM ('NEVER', 'IF_BETTER', 'ALWAYS');

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN     "data_max_interaction_id" BIGINT;

-- CreateTable
CREATE TABLE "training_runs" (
    "id" SERIAL NOT NULL,
    "kind" "model_kind" NOT NULL,
    "status" "training_status" NOT NULL DEFAULT 'QUEUED',
    "activation" "activation_policy" NOT NULL DEFAULT 'IF_BETTER',
    "hyperparameters" JSONB NOT NULL DEFAULT '{}',
    "trigger" VARCHAR(16) NOT NULL DEFAULT 'API',
    "job_id" UUID,
    "worker" VARCHAR(128),
    "epochs" INTEGER,
    "epoch" INTEGER NOT NULL DEFAULT 0,
    "history" JSONB NOT NULL DEFAULT '[]',
    "comparison" JSONB,
    "decision" TEXT,
    "activated" BOOLEAN NOT NULL DEFAULT false,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "error" TEXT,
    "version_id" INTEGER,
    "data_seconds" DOUBLE PRECISION,
    "training_seconds" DOUBLE PRECISION,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "heartbeat_at" TIMESTAMPTZ(3),

    CONSTRAINT "training_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "training_runs_created_at_idx" ON "training_runs"("created_at" DESC);

-- CreateIndex
CREATE INDEX "training_runs_status_idx" ON "training_runs"("status");

-- AddForeignKey
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;
