import { loadEnv } from '../config/env.js';

describe('item image settings (RECODER_IMAGE_*)', () => {
  it('defaults to 32×32 RGB and a 2 MiB upload cap', () => {
    expect(loadEnv({}).images).toEqual({ size: 32, channels: 3, maxBytes: 2 * 1024 * 1024 });
  });

  it('parses the settings', () => {
    expect(
      loadEnv({ RECODER_IMAGE_SIZE: '64', RECODER_IMAGE_CHANNELS: '1', RECODER_MAX_IMAGE_BYTES: '500000' }).images,
    ).toEqual({
      size: 64,
      channels: 1,
      maxBytes: 500000,
    });
  });

  it('refuses out-of-range values, listing each', () => {
    for (const [name, value] of [
      ['RECODER_IMAGE_SIZE', '7'],
      ['RECODER_IMAGE_SIZE', '129'],
      ['RECODER_IMAGE_SIZE', '31.5'],
      ['RECODER_IMAGE_CHANNELS', '2'],
      ['RECODER_IMAGE_CHANNELS', '4'],
      ['RECODER_MAX_IMAGE_BYTES', '0'],
      ['RECODER_MAX_IMAGE_BYTES', String(13 * 1024 * 1024)],
    ]) {
      expect(() => loadEnv({ [name]: value })).toThrow(new RegExp(name));
    }
  });
});
