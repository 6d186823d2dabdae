-- AlterEnum
ALTER TYPE "model_kind" ADD VALUE 'CONV_AE';
