-- Online evaluation and experiments (docs/experiments.md).

-- AlterEnum
ALTER TYPE "activation_policy" ADD VALUE 'EXPERIMENT';

-- CreateEnum
CREATE TYPE "experiment_status" AS ENUM ('RUNNING', 'STOPPED');

-- AlterTable
ALTER TABLE "interactions" ADD COLUMN "recommendation_id" UUID;

-- CreateTable
CREATE TABLE "experiments" (
    "id" SERIAL NOT NULL,
    "name" VARCHAR(128),
    "slot" VARCHAR(64) NOT NULL,
    "status" "experiment_status" NOT NULL DEFAULT 'RUNNING',
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stopped_at" TIMESTAMPTZ(3),
    "stop_reason" TEXT,
    "winner_version_id" INTEGER,
    "training_run_id" INTEGER,

    CONSTRAINT "experiments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "experiment_arms" (
    "experiment_id" INTEGER NOT NULL,
    "arm" SMALLINT NOT NULL,
    "version_id" INTEGER NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "experiment_arms_pkey" PRIMARY KEY ("experiment_id","arm")
);

-- CreateTable
CREATE TABLE "impressions" (
    "id" UUID NOT NULL,
    "subject" VARCHAR(256),
    "anonymous" BOOLEAN NOT NULL DEFAULT false,
    "version_id" INTEGER,
    "slot" VARCHAR(64) NOT NULL DEFAULT 'default',
    "experiment_id" INTEGER,
    "arm" SMALLINT,
    "item_ids" INTEGER[],
    "fallback" BOOLEAN NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "impressions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
-- Partial: only events that carry a recommendationId are indexed.
CREATE INDEX "interactions_recommendation_id_idx" ON "interactions"("recommendation_id") WHERE "recommendation_id" IS NOT NULL;

-- CreateIndex
CREATE INDEX "experiments_started_at_idx" ON "experiments"("started_at" DESC);

-- At most one running experiment per slot.
CREATE UNIQUE INDEX "experiments_one_running_per_slot" ON "experiments"("slot") WHERE "status" = 'RUNNING';

-- CreateIndex
CREATE INDEX "impressions_version_id_created_at_idx" ON "impressions"("version_id", "created_at");

-- CreateIndex
CREATE INDEX "impressions_subject_created_at_idx" ON "impressions"("subject", "created_at");

-- CreateIndex
CREATE INDEX "impressions_experiment_id_arm_created_at_idx" ON "impressions"("experiment_id", "arm", "created_at");

-- CreateIndex
CREATE INDEX "impressions_created_at_idx" ON "impressions" USING BRIN ("created_at");

-- AddForeignKey
ALTER TABLE "experiments" ADD CONSTRAINT "experiments_winner_version_id_fkey" FOREIGN KEY ("winner_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiment_arms" ADD CONSTRAINT "experiment_arms_experiment_id_fkey" FOREIGN KEY ("experiment_id") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiment_arms" ADD CONSTRAINT "experiment_arms_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Activating a version in a slot (active_models written by activateModelVersion, the CLI or a
-- training run) stops the slot's running experiment explicitly: it is marked STOPPED with the
-- reason, and every API process is told on "recoder_experiments" (stopExperiment marks its
-- experiment stopped before it activates the winner, so this finds nothing then).
CREATE FUNCTION recoder_stop_experiments_on_activation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  e record;
BEGIN
  FOR e IN
    UPDATE experiments SET status = 'STOPPED', stopped_at = now(),
      stop_reason = format('model version %s was activated outside the experiment', NEW.version_id)
    WHERE slot = NEW.slot AND status = 'RUNNING'
    RETURNING id, stop_reason
  LOOP
    PERFORM pg_notify('recoder_experiments', json_build_object('id', e.id, 'slot', NEW.slot, 'status', 'STOPPED', 'reason', e.stop_reason)::text);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER active_models_stop_experiments AFTER INSERT OR UPDATE ON "active_models"
  FOR EACH ROW EXECUTE FUNCTION recoder_stop_experiments_on_activation();
