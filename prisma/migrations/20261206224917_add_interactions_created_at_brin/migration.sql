-- CreateIndex
CREATE INDEX "interactions_created_at_idx" ON "interactions" USING BRIN ("created_at");
