// A small parser of the Prometheus text exposition format (0.0.4) for tests: samples with their
// labels, and the TYPE of each family. Strict enough to catch malformed output: an unparsable line
// throws with its number.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  samples: Sample[]
  types: Map<string, string>
  help: Map<string, string>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/

function parseValue (text: string): number {
  // Case-insensitive like Prometheus's own parser (Go's ParseFloat); prom-client writes "Nan".
  const lower = text.toLowerCase()
  if (lower === '+inf' || lower === 'inf') return Infinity
  if (lower === '-inf') return -Infinity
  if (lower === 'nan') return NaN
  const n = Number(text)
  if (text === '' || Number.isNaN(n)) throw new Error(`bad value "${text}"`)
  return n
}

/** Parses `{a="x",b="y\"z"}` starting at text[0] === '{'; returns the labels and the rest. */
function parseLabels (text: string): { labels: Record<string, string>, rest: string } {
  const labels: Record<string, string> = {}
  let i = 1
  for (;;) {
    while (text[i] === ' ') i++
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) }
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))
    if (name === null) throw new Error('bad label name')
    i += name[0].length
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`label ${name[0]} without ="value"`)
    i += 2
    let value = ''
    for (;;) {
      const c = text[i]
      if (c === undefined) throw new Error('unterminated label value')
      if (c === '"') { i++; break }
      if (c === '\\') {
        const e = text[i + 1]
        value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`
        i += 2
      } else { value += c; i++ }
    }
    if (name[0] in labels) throw new Error(`label ${name[0]} repeated`)
    labels[name[0]] = value
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new Error('expected , or } after a label')
  }
}

export function parsePrometheusText (text: string): Exposition {
  const out: Exposition = { samples: [], types: new Map(), help: new Map() }
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '') return
    try {
      if (line.startsWith('#')) {
        const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line)
        if (m === null) return // a plain comment
        if (m[1] === 'TYPE') {
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`unknown type ${m[3]!}`)
          out.types.set(m[2]!, m[3]!)
        } else out.help.set(m[2]!, m[3]!)
        return
      }
      const name = NAME.exec(line)
      if (name === null) throw new Error('no metric name')
      let rest = line.slice(name[0].length)
      let labels: Record<string, string> = {}
      if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest))
      const parts = rest.trim().split(/\s+/)
      if (parts.length < 1 || parts.length > 2) throw new Error('expected a value and an optional timestamp')
      out.samples.push({ name: name[0], labels, value: parseValue(parts[0]!) })
    } catch (err) {
      throw new Error(`line ${index + 1}: ${(err as Error).message}: ${raw}`)
    }
  })
  return out
}

/** The one sample of `name` whose labels include `labels`; throws when none or several match. */
export function sampleValue (exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
  return found[0]!.value
}
