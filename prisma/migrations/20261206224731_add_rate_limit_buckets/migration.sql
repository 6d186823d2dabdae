-- CreateTable
-- UNLOGGED: rate-limit counters need no crash safety (a crash resets the current minute), and
-- writing no WAL keeps the per-request upsert cheap. Expired rows are deleted by the API processes.
CREATE UNLOGGED TABLE "rate_limit_buckets" (
    "key" VARCHAR(200) NOT NULL,
    "count" INTEGER NOT NULL,
    "reset_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "rate_limit_buckets_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "rate_limit_buckets_reset_at_idx" ON "rate_limit_buckets"("reset_at");
