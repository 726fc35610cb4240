/**
 * Charts drawn on the server as SVG strings: no script, no CDN, so the console works when the
 * branch's internet is down. Every chart is paired in the page with a table of its numbers.
 * Colours are presentation attributes (a CSP without 'unsafe-inline' allows them).
 */

const ACCENT = '#0b5cad'

export function escapeXml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

function svgOpen(
  id: string,
  title: string,
  width: number,
  height: number,
  extraClass = '',
): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart${extraClass}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ` +
    `aria-labelledby="${id}-title" preserveAspectRatio="xMidYMid meet"><title id="${id}-title">${escapeXml(title)}</title>`
  )
}

/** Round maximum for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (max <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * power >= max) return m * power
  return 10 * power
}

/** Vertical bars with their value above each bar and the label below. */
export function barChart(p: {
  id: string
  title: string
  labels: string[]
  values: number[]
}): string {
  const width = 560
  const height = 240
  const left = 40
  const bottom = 40
  const top = 20
  const plotH = height - top - bottom
  const max = niceMax(Math.max(0, ...p.values))
  const slot = (width - left - 10) / Math.max(1, p.values.length)
  let out = svgOpen(p.id, p.title, width, height)
  out += axis(left, top, width - 10, plotH, max)
  p.values.forEach((v, i) => {
    const h = (v / max) * plotH
    const x = left + i * slot + slot * 0.15
    const w = slot * 0.7
    const y = top + plotH - h
    out += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${ACCENT}" data-v="${v}"/>`
    out += `<text x="${(x + w / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="12">${escapeXml(v)}</text>`
    out += `<text x="${(x + w / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" font-size="12">${escapeXml(p.labels[i] ?? '')}</text>`
  })
  return out + '</svg>'
}

/** Daily visits as thin bars; dates labelled sparsely so a year stays readable. */
export function trendChart(p: {
  id: string
  title: string
  days: Array<{ date: string; visits: number }>
  dateLabel: (d: string) => string
}): string {
  const width = 720
  const height = 220
  const left = 40
  const bottom = 36
  const top = 14
  const plotW = width - left - 10
  const plotH = height - top - bottom
  const max = niceMax(Math.max(0, ...p.days.map((d) => d.visits)))
  const slot = plotW / Math.max(1, p.days.length)
  const every = Math.max(1, Math.ceil(p.days.length / 8))
  let out = svgOpen(p.id, p.title, width, height)
  out += axis(left, top, width - 10, plotH, max)
  p.days.forEach((d, i) => {
    const h = (d.visits / max) * plotH
    const x = left + i * slot
    out += `<rect x="${x.toFixed(2)}" y="${(top + plotH - h).toFixed(2)}" width="${Math.max(0.5, slot * 0.8).toFixed(2)}" height="${h.toFixed(2)}" fill="${ACCENT}" data-v="${d.visits}"/>`
    if (i % every === 0) {
      out += `<text x="${(x + slot / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${escapeXml(p.dateLabel(d.date))}</text>`
    }
  })
  return out + '</svg>'
}

/**
 * Size of a heatmap cell in px. Fixed, whatever the range: the chart grows by rows as hours are
 * added, and the page never stretches it (a chart of one busy hour used to be scaled to the
 * page's width, cells 480 px tall).
 */
export const HEAT_CELL = { width: 38, height: 20 } as const

/**
 * Weekday × hour grid drawn like a week calendar: one column per weekday, one row per hour, so
 * its width is fixed (7 columns, about 320 px: it fits a phone) and every hour gets the same cell.
 * Darker means more visits. Only the hours `activeHours` returns are drawn.
 */
export function heatmapChart(p: {
  id: string
  title: string
  grid: number[][]
  dayLabels: string[]
}): string {
  const hours = activeHours(p.grid)
  const { width: cw, height: ch } = HEAT_CELL
  const left = 44
  const top = 22
  const width = left + 7 * cw + 6
  const height = top + hours.length * ch + 6
  // Shade between the quietest and the busiest hour with visits, so a steady branch still
  // shows its peaks; hours without visits stay blank.
  const busy = p.grid.flat().filter((v) => v > 0)
  const max = Math.max(1, ...busy)
  const min = Math.min(max, ...busy)
  let out = svgOpen(p.id, p.title, width, height, ' heat')
  p.dayLabels.slice(0, 7).forEach((d, i) => {
    out += `<text x="${left + i * cw + cw / 2}" y="${top - 7}" text-anchor="middle" font-size="11">${escapeXml(d)}</text>`
  })
  hours.forEach((h, j) => {
    const y = top + j * ch
    out += `<text x="${left - 6}" y="${y + ch * 0.7}" text-anchor="end" font-size="11">${h}:00</text>`
    p.grid.forEach((row, i) => {
      const v = row[h] ?? 0
      // The quietest hour with visits still stands out 3:1 from the page (WCAG 1.4.11); an hour
      // without visits is left all but blank on purpose.
      const opacity =
        v === 0
          ? 0.04
          : HEAT_MIN_OPACITY + (1 - HEAT_MIN_OPACITY) * (max === min ? 1 : (v - min) / (max - min))
      out += `<rect x="${left + i * cw + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="${ACCENT}" fill-opacity="${opacity.toFixed(2)}" data-v="${v}"><title>${escapeXml(`${p.dayLabels[i]} ${h}:00 — ${v}`)}</title></rect>`
    })
  })
  return out + '</svg>'
}

/** Opacity of the heatmap's quietest hour with visits: #0b5cad at 0.65 on white is 3.2:1. */
export const HEAT_MIN_OPACITY = 0.65

/** Fewest hours the heatmap shows: one busy hour is read against its neighbours. */
export const HEAT_MIN_HOURS = 8

/**
 * The hours of the day the heatmap shows: from the first to the last hour with visits on any
 * weekday, widened toward midday to at least HEAT_MIN_HOURS (9:00–16:00 when there is no visit).
 */
export function activeHours(grid: number[][]): number[] {
  const busy = Array.from({ length: 24 }, (_, h) => h).filter((h) =>
    grid.some((row) => (row[h] ?? 0) > 0),
  )
  let first = busy[0] ?? 9
  let last = busy[busy.length - 1] ?? 9 + HEAT_MIN_HOURS - 1
  while (last - first + 1 < HEAT_MIN_HOURS) {
    // Widen toward midday, where a branch's hours are, never past the day's ends.
    if ((first + last) / 2 < 12.5 ? last < 23 : first === 0) last++
    else first--
  }
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
}

function axis(left: number, top: number, right: number, plotH: number, max: number): string {
  let out = ''
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH
    out += `<line x1="${left}" x2="${right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#c8c8c8" stroke-width="1"/>`
    // Only whole numbers on the axis: a half of 1 is left unlabelled.
    if (Number.isInteger(max * f)) {
      out += `<text x="${left - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${escapeXml(max * f)}</text>`
    }
  }
  return out
}

/** The previous period's colour: dark grey, dashed, 7:1 on white. */
const PREVIOUS = '#595959'

/**
 * A period beside the one before it (issue 18): two lines over the same x axis (day 1, 2, …),
 * the current one solid in the accent colour, the previous one dashed in grey, each point with
 * its value in `data-v`; a legend names both. `labels` name the current period's points.
 */
export function compareChart(p: {
  id: string
  title: string
  labels: string[]
  current: number[]
  previous: number[]
  legend: { current: string; previous: string }
}): string {
  const width = 720
  const height = 240
  const left = 40
  const bottom = 40
  const top = 30
  const plotW = width - left - 16
  const plotH = height - top - bottom
  const n = Math.max(p.current.length, p.previous.length, 1)
  const max = niceMax(Math.max(0, ...p.current, ...p.previous))
  const x = (i: number) => left + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1))
  const y = (v: number) => top + plotH - (v / max) * plotH
  const every = Math.max(1, Math.ceil(n / 8))
  let out = svgOpen(p.id, p.title, width, height)
  out += axis(left, top, width - 16, plotH, max)
  const line = (values: number[], colour: string, dashed: boolean, key: string) => {
    const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    let g = `<g class="${key}"><polyline points="${points}" fill="none" stroke="${colour}" stroke-width="${dashed ? 2 : 3}"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`
    // Points only where they can be told apart.
    if (n <= 60)
      values.forEach((v, i) => {
        g += `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${colour}" data-v="${v}"/>`
      })
    return g + '</g>'
  }
  out += line(p.previous, PREVIOUS, true, 'previous')
  out += line(p.current, ACCENT, false, 'current')
  p.labels.forEach((label, i) => {
    if (i % every === 0 || i === n - 1)
      out += `<text x="${x(i).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${escapeXml(label)}</text>`
  })
  // Legend: a swatch of each line and its name.
  out += `<line x1="${left}" x2="${left + 24}" y1="12" y2="12" stroke="${ACCENT}" stroke-width="3"/>`
  out += `<text x="${left + 30}" y="16" font-size="12">${escapeXml(p.legend.current)}</text>`
  const second = left + 40 + 7 * p.legend.current.length
  out += `<line x1="${second}" x2="${second + 24}" y1="12" y2="12" stroke="${PREVIOUS}" stroke-width="2" stroke-dasharray="6 4"/>`
  out += `<text x="${second + 30}" y="16" font-size="12">${escapeXml(p.legend.previous)}</text>`
  return out + '</svg>'
}
