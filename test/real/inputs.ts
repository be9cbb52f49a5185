/**
 * Realistic inputs for the real-model suite, made by the test from Debian tools the setup installs:
 * pages and lines of text rendered by ImageMagick (DejaVu Sans), speech synthesized by espeak-ng
 * and resampled by sox. Nothing is random noise alone; everything is deterministic.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const FONT = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf'];
const CONVERT = fs.existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert';

export const SENTENCES = [
  'Quantization keeps the model small and fast.',
  'The quick brown fox jumps over the lazy dog.',
  'Invoice 2024-117: total due 1,284.50 EUR',
  'Open the settings and choose a calibration set.',
  'Speech recognition works best with clean audio.',
  'Page 12 of 48, printed on 3 March 2026.',
];

export interface Rgb {
  width: number;
  height: number;
  /** Interleaved RGB bytes, row major. */
  pixels: Uint8Array;
}

/** Render lines of dark text on a light page with ImageMagick; raw RGB back. */
export function renderText(width: number, height: number, lines: { text: string; x: number; y: number; size: number; font?: number }[], background = 'white'): Rgb {
  const args = ['-size', `${width}x${height}`, `xc:${background}`, '-fill', '#202020'];
  for (const l of lines) args.push('-font', FONT[l.font ?? 0] ?? FONT[0] ?? '', '-pointsize', String(l.size), '-annotate', `+${l.x}+${l.y}`, l.text);
  args.push('-depth', '8', 'rgb:-');
  const pixels = new Uint8Array(execFileSync(CONVERT, args, { maxBuffer: 64 * 1024 * 1024 }));
  if (pixels.length !== width * height * 3) throw new Error(`ImageMagick returned ${pixels.length} bytes for ${width}x${height} RGB`);
  return { width, height, pixels };
}

/** A page of text (several lines, two fonts, sizes 18-30 px) for text detection. */
export function textPage(width: number, height: number, seed: number): Rgb {
  const lines = [];
  let y = 40;
  for (let i = 0; y < height - 20; i++) {
    const size = 18 + ((seed * 7 + i * 5) % 13);
    lines.push({ text: SENTENCES[(seed + i) % SENTENCES.length] ?? '', x: 16 + ((seed + i) % 3) * 24, y, size, font: (seed + i) % 2 });
    y += size + 22;
  }
  return renderText(width, height, lines, seed % 2 ? 'white' : '#f4f1e8');
}

/** One line of text, height 48, for text recognition and direction. */
export function textLine(width: number, text: string, font = 0): Rgb {
  return renderText(width, 48, [{ text, x: 4, y: 34, size: 26, font }]);
}

/** Rotate an image by 180° (an upside-down text line for the direction classifier). */
export function rotate180(img: Rgb): Rgb {
  const out = new Uint8Array(img.pixels.length);
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[(n - 1 - i) * 3 + c] = img.pixels[i * 3 + c] ?? 0;
  return { ...img, pixels: out };
}

/** NCHW float32 with per-channel (x/255 - mean) / std. */
export function toNchw(imgs: Rgb[], mean: number[], std: number[]): Float32Array {
  const first = imgs[0];
  if (!first) return new Float32Array(0);
  const plane = first.width * first.height;
  const out = new Float32Array(imgs.length * 3 * plane);
  imgs.forEach((img, b) => {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) out[(b * 3 + c) * plane + i] = ((img.pixels[i * 3 + c] ?? 0) / 255 - (mean[c] ?? 0)) / (std[c] ?? 1);
    }
  });
  return out;
}

/** Speech at 16 kHz, float samples in [-1, 1]: espeak-ng reads the text, sox resamples; silence around it. */
export function speech(text: string, options: { voice?: string; silenceSeconds?: number } = {}): Float32Array {
  const wav = execFileSync('espeak-ng', ['-v', options.voice ?? 'en-us', '-s', '150', '--stdout', text], { maxBuffer: 64 * 1024 * 1024 });
  const raw = execFileSync('sox', ['-t', 'wav', '-', '-t', 'raw', '-r', '16000', '-c', '1', '-e', 'floating-point', '-b', '32', '-L', '-'], { input: wav, maxBuffer: 64 * 1024 * 1024 });
  const voice = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const pad = Math.round((options.silenceSeconds ?? 0.5) * 16000);
  const out = new Float32Array(pad + voice.length + pad);
  out.set(voice, pad);
  // A faint deterministic hum so that silence is not exact zeros (microphones never give zeros).
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) + 0.002 * Math.sin(i * 0.031) + 0.001 * Math.sin(i * 0.57);
  return out;
}

/**
 * A scene for salient-object segmentation: one of ImageMagick's built-in illustrations (the
 * wizard, the logo) with its white cut away, on a two-colour gradient, size × size.
 */
export function scene(size: number, seed: number): Rgb {
  const subjects = ['wizard:', 'logo:'];
  const backgrounds = ['#9ec5e8-#d8c8a8', '#5a7a4a-#c8d8e8', '#e8d0b0-#506070'];
  const offset = `+${(seed % 3) * 40 - 40}+${(seed % 2) * 60 - 30}`;
  const args = ['-size', `${size}x${size}`, `gradient:${backgrounds[seed % backgrounds.length]}`, '(', subjects[seed % subjects.length] ?? 'wizard:', '-fuzz', '8%', '-transparent', 'white', '-resize', `${Math.round(size * 0.65)}x${Math.round(size * 0.65)}`, ')'];
  args.push('-gravity', 'center', '-geometry', offset, '-composite', '-depth', '8', 'rgb:-');
  const pixels = new Uint8Array(execFileSync(CONVERT, args, { maxBuffer: 64 * 1024 * 1024 }));
  if (pixels.length !== size * size * 3) throw new Error(`ImageMagick returned ${pixels.length} bytes for a ${size}x${size} scene`);
  return { width: size, height: size, pixels };
}
