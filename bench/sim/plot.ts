import type { ScenarioResult } from './scenario.js'

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728']

/** One SVG per scenario: a chart per design, throughput per path and goodput over time. */
export function plotScenario (title: string, results: ScenarioResult[]): string {
  const w = 760
  const h = 180
  const left = 50
  const top = 30
  const gap = 40
  const maxMbps = Math.max(1, ...results.flatMap((r) => [...r.goodputMbps, ...r.pathMbps.flat()]))
  const yMax = Math.ceil(maxMbps / 5) * 5
  const parts: string[] = []
  const height = top + results.length * (h + gap)
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${w + left + 20}" height="${height}" font-family="sans-serif" font-size="11">`)
  parts.push(`<rect width="100%" height="100%" fill="white"/><text x="${left}" y="18" font-size="14">${escape(title)}</text>`)
  results.forEach((r, k) => {
    const y0 = top + k * (h + gap)
    const bins = r.goodputMbps.length
    const x = (i: number): number => left + (i / Math.max(1, bins - 1)) * w
    const y = (v: number): number => y0 + h - (v / yMax) * h
    parts.push(`<rect x="${left}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`)
    parts.push(`<text x="${left + 4}" y="${y0 + 14}">${escape(r.design)}: ${(r.goodputBitsPerSec / 1e6).toFixed(1)} Mbit/s</text>`)
    for (let v = 0; v <= yMax; v += 5) parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`)
    const seconds = (bins * r.binMs) / 1000
    for (let s = 0; s <= seconds; s += 2) parts.push(`<text x="${x((s * 1000) / r.binMs)}" y="${y0 + h + 14}" text-anchor="middle">${s}s</text>`)
    const series = [...r.pathMbps.map((m, i) => ({ name: `l${i + 1}`, data: m, color: COLORS[i % COLORS.length]! })), { name: 'goodput', data: r.goodputMbps, color: '#000' }]
    series.forEach((s, i) => {
      const pts = s.data.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.2" points="${pts}"/>`)
      parts.push(`<text x="${left + w - 200 + i * 60}" y="${y0 + 14}" fill="${s.color}">${s.name}</text>`)
    })
  })
  parts.push('</svg>')
  return parts.join('\n')
}

function escape (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
}
