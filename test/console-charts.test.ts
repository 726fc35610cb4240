import { describe, expect, it } from 'vitest'
import { activeHours, barChart, heatmapChart, niceMax, trendChart } from '../src/console/charts.js'

describe('server-drawn charts', () => {
  it('draws one bar per value with its number, and escapes every label', () => {
    const svg = barChart({ id: 'h', title: 'Visitas <b>', labels: ['< 5', '5–15'], values: [3, 7] })
    expect(svg.match(/<rect /g)).toHaveLength(2)
    expect(svg).toContain('>7</text>')
    expect(svg).toContain('&#60; 5')
    expect(svg).toContain('<title id="h-title">Visitas &#60;b&#62;</title>')
    expect(svg).toContain('role="img"')
  })

  it('rounds the axis to 1, 2 or 5 times a power of ten', () => {
    expect([niceMax(0), niceMax(1), niceMax(3), niceMax(7), niceMax(480), niceMax(501)]).toEqual([
      1, 1, 5, 10, 500, 1000,
    ])
  })

  it('labels a year of days sparsely', () => {
    const days = Array.from({ length: 365 }, (_, i) => ({ date: `d${i}`, visits: i % 7 }))
    const svg = trendChart({ id: 't', title: 'x', days, dateLabel: (d) => d })
    expect(svg.match(/<rect /g)).toHaveLength(365)
    expect(svg.match(/font-size="11">d\d+</g)!.length).toBeLessThanOrEqual(9)
  })

  it('shows only the opening hours in the heatmap, busiest cell darkest', () => {
    const grid = Array.from({ length: 7 }, () => Array<number>(24).fill(0))
    grid[0]![9] = 1
    grid[2]![17] = 10
    expect(activeHours(grid)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17])
    const svg = heatmapChart({
      id: 'm',
      title: 'x',
      grid,
      dayLabels: ['lun', 'mar', 'mié', 'jue', 'vie', 'sáb', 'dom'],
    })
    expect(svg.match(/<rect /g)).toHaveLength(7 * 9)
    expect(svg).toMatch(/fill-opacity="1.00" data-v="10"><title>mié 17:00 — 10<\/title>/)
    // The quietest hour with visits still stands out 3:1 from the page (#0b5cad at 0.65).
    expect(svg).toMatch(/fill-opacity="0.65" data-v="1"><title>lun 9:00 — 1<\/title>/)
  })

  it('keeps heatmap cells one size whatever the range, and the chart narrow enough for a phone', () => {
    const days = ['lun', 'mar', 'mié', 'jue', 'vie', 'sáb', 'dom']
    const size = (grid: number[][]) => {
      const svg = heatmapChart({ id: 'm', title: 'x', grid, dayLabels: days })
      const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number)
      const cells = new Set(
        [...svg.matchAll(/<rect [^>]*width="(\d+)" height="(\d+)"/g)].map((m) => `${m[1]}x${m[2]}`),
      )
      return { w, h, cells: [...cells] }
    }
    const empty = () => Array.from({ length: 7 }, () => Array<number>(24).fill(0))
    // "Hoy" with one busy hour: eight rows around it, not one stretched column.
    const one = empty()
    one[0]![11] = 3
    expect(activeHours(one)).toEqual([9, 10, 11, 12, 13, 14, 15, 16])
    const late = empty()
    late[4]![22] = 1
    expect(activeHours(late)).toEqual([15, 16, 17, 18, 19, 20, 21, 22])
    const allDay = empty().map((row) => row.map(() => 1))
    const a = size(one)
    const b = size(allDay)
    expect(a.cells).toEqual(['36x18'])
    expect(b.cells).toEqual(['36x18'])
    expect(a.w).toBe(b.w)
    // 390 px phone, less the page's padding.
    expect(a.w).toBeLessThanOrEqual(366)
    expect(a.h).toBeLessThan(200)
    expect(b.h).toBeLessThan(520)
    expect(activeHours(empty())).toEqual([9, 10, 11, 12, 13, 14, 15, 16])
  })
})
