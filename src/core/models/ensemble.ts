import type { CsrMatrix } from '../data/csr.js';
import type { Autoencoder } from './autoencoder.js';
import { Ease } from './ease.js';
import { MultDAE } from './mult-dae.js';
import type { Tf } from './multinomial-ae.js';
import { MultVAE } from './mult-vae.js';
import { rowStats, standardizeRows } from './score-blend.js';
import { cosineScorer, easeScorer, mixedScorer } from '../serving/similarity.js';
import { hasMagic, magicOf, packWeights, readArrays, readWeightsHeader } from './weights-file.js';
import { dropLastColumn, type DisposableItemScorer, type ScoreMaterial, type ServableModel } from './servable.js';
import { MultinomialAutoencoder } from './multinomial-ae.js';

export { rowStats };

/** A model an ensemble can hold: EASE or a Mult-DAE / Mult-VAE (every member ranks every item). */
export type EnsembleMemberModel = Ease | MultDAE | MultVAE;

export interface EnsembleMember {
  model: EnsembleMemberModel;
  /** Blend weight of the member's standardised scores (0 keeps a member for its embeddings only). */
  weight: number;
}

const MAGIC = 0x31534e45; // "ENS1" little-endian: the layout before the weights-file format
const FILE_MAGIC = magicOf('ENSW');
const FILE_VERSION = 2;
const KIND_TAG = { ease: 1, dae: 2, vae: 3 } as const;
type MemberKind = keyof typeof KIND_TAG;

/** The kind name of a member model ('ease', 'dae', 'vae'). */
export function memberKind(model: EnsembleMemberModel): MemberKind {
  return model.kind;
}

/**
 * An ensemble of ranking models served as one version: the score of item i for a history is
 * Σ_m w_m · z_m(i), with z_m each member's scores for that history standardised over all items
 * (score-blend.ts `blendScores`: EASE's xB and an autoencoder's logits live on different scales).
 * The blend the AUTO search evaluates on validation users and the blend served are this one
 * function, so they rank identically.
 *
 * User and item embeddings, reconstructions and anomaly scores come from the {@link factorized}
 * member (the first autoencoder), which every AUTO ensemble has, even at blend weight 0.
 */
export class Ensemble implements ServableModel {
  readonly kind = 'ensemble' as const;
  /** Reconstructions come from the autoencoder member: multinomial probabilities. */
  readonly scoreUnit = 'probability' as const;
  readonly itemScorerUsesCooccurrence = false;
  readonly numItems: number;
  readonly members: readonly EnsembleMember[];

  constructor(members: readonly EnsembleMember[]) {
    if (members.length === 0) throw new Error('Ensemble: needs at least one member');
    const n = members[0].model.numItems;
    for (const m of members) {
      if (m.model.numItems !== n)
        throw new Error(`Ensemble: members rank ${n} and ${m.model.numItems} items; they must share the columns`);
      if (!Number.isFinite(m.weight)) throw new Error(`Ensemble: weight ${m.weight} is not a finite number`);
    }
    if (!members.some((m) => m.weight !== 0)) throw new Error('Ensemble: every weight is 0');
    this.numItems = n;
    this.members = members;
  }

  /** The member that provides embeddings, reconstructions and anomaly scores (the first autoencoder), or null. */
  get factorized(): (Autoencoder & (MultDAE | MultVAE)) | null {
    for (const m of this.members) if (m.model.factor) return m.model.factor as Autoencoder & (MultDAE | MultVAE);
    return null;
  }

  /** The {@link factorized} member: the ensemble's user and item vectors. */
  get factor(): (Autoencoder & (MultDAE | MultVAE)) | null {
    return this.factorized;
  }

  /** The blend of every item, each member's row statistics, and the factor's queries. */
  scoreMaterial(histories: CsrMatrix): ScoreMaterial {
    const parts = this.scoreParts(histories);
    const factor = this.factorized;
    return {
      kind: 'blend',
      blend: parts.blend,
      mean: parts.mean,
      std: parts.std,
      queries: factor ? factor.userQueries(histories) : null,
    };
  }

  /** A raw factor score on the blend's scale (row `row`); the other members score an unknown item 0. */
  rankingScoreOf(material: ScoreMaterial, row: number): (raw: number) => number {
    const factor = this.factorized;
    if (material.kind !== 'blend' || !factor) return (raw) => raw;
    let offset = 0;
    let scale = 0;
    this.members.forEach((m, i) => {
      const std = material.std[i][row];
      if (m.weight === 0 || !(std > 0)) return;
      offset -= (m.weight * material.mean[i][row]) / std;
      if (m.model === factor) scale = m.weight / std;
    });
    return (raw: number) => offset + scale * raw;
  }

  /** The member whose reconstructions and errors the ensemble reports: its autoencoder, else its EASE member. */
  private get reconstructor(): EnsembleMemberModel {
    return this.factorized ?? this.members[0].model;
  }

  reconstructionErrors(histories: CsrMatrix): Float64Array {
    return this.reconstructor.reconstructionErrors(histories);
  }

  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number } {
    return this.reconstructor.reconstructInUnit(history);
  }

  /**
   * ½ EASE's partial correlation −P_ij/√(P_ii P_jj) + ½ (½ encoder + ½ decoder cosine)
   * (docs/similarity.md: 1.026× genre precision on ML-1M, 1.034× on ml-latest-small); null when
   * the ensemble lacks either member kind.
   */
  itemScorer(): DisposableItemScorer | null {
    const ease = this.members.find((m) => m.model instanceof Ease)?.model as Ease | undefined;
    const ae = this.factorized;
    if (!ease || !(ae instanceof MultinomialAutoencoder)) return null;
    const n = this.numItems;
    const input = ae.inputItemVectors();
    const encoder = cosineScorer(input.vectors, input.dim, { blockSize: 16 });
    const decoder = cosineScorer(dropLastColumn(ae.itemVectors(), ae.itemVectorDim), ae.itemVectorDim - 1, {
      blockSize: 16,
    });
    const autoencoder = mixedScorer(n, [
      { scorer: encoder, weight: 0.5 },
      { scorer: decoder, weight: 0.5 },
    ]);
    const mixed = mixedScorer(n, [
      { scorer: easeScorer(ease.weights, n, 'geometric'), weight: 0.5 },
      { scorer: autoencoder, weight: 0.5 },
    ]);
    return Object.assign(mixed, { dispose: () => (encoder.dispose(), decoder.dispose()) });
  }

  /** Blend weight of the {@link factorized} member (0 when there is none). */
  get factorizedWeight(): number {
    const f = this.factorized;
    return this.members.find((m) => m.model === f)?.weight ?? 0;
  }

  /** Hyperparameters for the registry: the members' kinds, weights and settings. */
  get hyperparameters(): Record<string, unknown> {
    return {
      members: this.members.map((m) => ({
        kind: memberKind(m.model),
        weight: m.weight,
        ...m.model.hyperparameters,
      })),
    };
  }

  /**
   * @param histories [rows × numItems]
   * @returns [rows × numItems] the blended standardised scores
   */
  score(histories: CsrMatrix): Float32Array {
    return this.scoreParts(histories).blend;
  }

  /**
   * The blend and what a caller needs to put another score on its scale: each member's raw scores'
   * row mean and standard deviation (per row, per member).
   */
  scoreParts(histories: CsrMatrix): {
    blend: Float32Array;
    raw: Float32Array[];
    mean: Float64Array[];
    std: Float64Array[];
  } {
    const n = this.numItems;
    const rows = histories.numRows;
    const blend = new Float32Array(rows * n);
    const raw: Float32Array[] = [];
    const mean: Float64Array[] = [];
    const std: Float64Array[] = [];
    for (const m of this.members) {
      const s = m.model.score(histories);
      raw.push(s);
      const mu = new Float64Array(rows);
      const sd = new Float64Array(rows);
      for (let r = 0; r < rows; r++) [mu[r], sd[r]] = rowStats(s, r * n, n);
      mean.push(mu);
      std.push(sd);
      if (m.weight === 0) continue;
      accumulateWeighted(blend, standardizeRows(s.slice(), n), m.weight);
    }
    return { blend, raw, mean, std };
  }

  /**
   * The model file of weights-file.ts (magic "ENSW", version 2): header { members: [{ kind,
   * weight, bytes }] }, then each member's own file as raw bytes. {@link fromBytes} also reads
   * "ENS1" (earlier versions): member count, then per member a kind tag, weight (float64), byte
   * length and bytes (padded to 4).
   */
  toBytes(): Uint8Array {
    const parts = this.members.map((m) => ({ kind: memberKind(m.model), weight: m.weight, bytes: m.model.toBytes() }));
    const header = { members: parts.map((p) => ({ kind: p.kind, weight: p.weight, bytes: p.bytes.byteLength })) };
    return packWeights(
      FILE_MAGIC,
      FILE_VERSION,
      header,
      parts.map((p) => p.bytes),
    );
  }

  static fromBytes(tf: Tf, bytes: Uint8Array): Ensemble {
    const what = 'Ensemble.fromBytes';
    let parts: { kind: MemberKind | number; weight: number; body: Uint8Array }[];
    if (hasMagic(bytes, FILE_MAGIC)) {
      const { header, dataOffset } = readWeightsHeader<{
        members: { kind: MemberKind; weight: number; bytes: number }[];
      }>(bytes, FILE_MAGIC, FILE_VERSION, what, 'not an ensemble');
      const bodies = readArrays(
        bytes,
        dataOffset,
        header.members.map((m) => ({ type: 'u8' as const, length: m.bytes })),
        what,
      ) as Uint8Array[];
      parts = header.members.map((m, k) => ({ kind: m.kind, weight: m.weight, body: bodies[k] }));
    } else {
      parts = legacyParts(bytes);
    }
    const members: EnsembleMember[] = [];
    try {
      for (const { kind, weight, body } of parts) {
        const model =
          kind === 'ease' || kind === KIND_TAG.ease
            ? Ease.fromBytes(body)
            : kind === 'dae' || kind === KIND_TAG.dae
              ? MultDAE.fromBytes(tf, body)
              : kind === 'vae' || kind === KIND_TAG.vae
                ? MultVAE.fromBytes(tf, body)
                : null;
        if (!model) throw new Error(`Ensemble.fromBytes: unknown member kind ${kind}`);
        members.push({ model, weight });
      }
      return new Ensemble(members);
    } catch (error) {
      for (const m of members) m.model.dispose();
      throw error;
    }
  }

  /** Frees the members' tensors. */
  dispose(): void {
    for (const m of this.members) m.model.dispose();
  }
}

/** out += weight · z, element-wise (the one accumulation every blend of standardised scores uses). */
export function accumulateWeighted(out: Float32Array, z: Float32Array, weight: number): void {
  for (let k = 0; k < z.length; k++) out[k] += weight * z[k];
}

const pad4 = (n: number) => (n + 3) & ~3;

/** The members of an "ENS1" file (kind tag, weight, bytes). */
function legacyParts(bytes: Uint8Array): { kind: number; weight: number; body: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== MAGIC) throw new Error('Ensemble.fromBytes: not an ensemble');
  const count = view.getUint32(4, true);
  const parts: { kind: number; weight: number; body: Uint8Array }[] = [];
  let at = 8;
  for (let k = 0; k < count; k++) {
    if (at + 16 > bytes.byteLength) throw new Error('Ensemble.fromBytes: truncated');
    const kind = view.getUint32(at, true);
    const weight = view.getFloat64(at + 4, true);
    const length = view.getUint32(at + 12, true);
    if (at + 16 + length > bytes.byteLength) throw new Error('Ensemble.fromBytes: truncated');
    parts.push({ kind, weight, body: bytes.subarray(at + 16, at + 16 + length) });
    at += 16 + pad4(length);
  }
  return parts;
}
