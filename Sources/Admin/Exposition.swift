/// Prometheus' text exposition format, version 0.0.4: per metric family one `# HELP` and one
/// `# TYPE` line, then its samples, families in the order they were first given. A family with
/// no samples is left out.
struct Exposition {
    /// The metric types this driver exports.
    enum Kind: String {
        case counter, gauge, histogram
    }

    private struct Family {
        let name: String
        let kind: Kind
        let help: String
        var samples: [String] = []
    }

    private var families: [Family] = []

    init() {}

    /// Adds one sample of family `name` (declared by its first sample: kind and help).
    mutating func add(
        _ name: String, _ kind: Kind, help: String, labels: [(String, String)] = [], value: String
    ) {
        append(name, kind, help, [Self.sample(name, labels, value)])
    }

    /// Adds a histogram's samples for one label set: cumulative `_bucket` lines (the `+Inf`
    /// bucket equals `_count`), `_sum` and `_count`.
    mutating func add(_ name: String, help: String, labels: [(String, String)] = [], histogram: Histogram) {
        var lines: [String] = []
        var cumulative: UInt64 = 0
        for (bound, count) in zip(histogram.boundsMilliseconds, histogram.bucketCounts) {
            cumulative += count
            lines.append(
                Self.sample(
                    name + "_bucket", labels + [("le", Self.seconds(milliseconds: bound))], String(cumulative)))
        }
        lines.append(Self.sample(name + "_bucket", labels + [("le", "+Inf")], String(histogram.count)))
        lines.append(Self.sample(name + "_sum", labels, Self.seconds(milliseconds: histogram.sumMilliseconds)))
        lines.append(Self.sample(name + "_count", labels, String(histogram.count)))
        append(name, .histogram, help, lines)
    }

    /// The exposition text: one family after another, each ending in a newline.
    var text: String {
        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples { out += sample + "\n" }
        }
        return out
    }

    private mutating func append(_ name: String, _ kind: Kind, _ help: String, _ samples: [String]) {
        precondition(Self.isMetricName(name), "invalid metric name \(name)")
        if let index = families.firstIndex(where: { $0.name == name }) {
            precondition(families[index].kind == kind, "metric \(name) given two types")
            families[index].samples += samples
        } else {
            families.append(Family(name: name, kind: kind, help: help, samples: samples))
        }
    }

    private static func sample(_ name: String, _ labels: [(String, String)], _ value: String) -> String {
        guard !labels.isEmpty else { return "\(name) \(value)" }
        let pairs = labels.map { key, value in
            precondition(isLabelName(key), "invalid label name \(key)")
            return "\(key)=\"\(escapeLabelValue(value))\""
        }
        return "\(name){\(pairs.joined(separator: ","))} \(value)"
    }

    /// A label value with `\`, `"` and line feed escaped, as the format requires.
    static func escapeLabelValue(_ value: String) -> String { escape(value, quotes: true) }

    /// HELP text with `\` and line feed escaped.
    static func escapeHelp(_ help: String) -> String { escape(help, quotes: false) }

    /// `text` with `\` and line feed escaped, and `"` too when `quotes`.
    private static func escape(_ text: String, quotes: Bool) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A float sample value: Prometheus spells infinities `+Inf`/`-Inf` and not-a-number `NaN`.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Whole milliseconds as exact decimal seconds ("0.005", "2.5", "60").
    static func seconds(milliseconds: UInt64) -> String {
        let whole = milliseconds / 1000
        let fraction = milliseconds % 1000
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore || first == ":" else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOrUnderscore || $0 == ":" || ("0"..."9").contains($0) }
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore, !name.hasPrefix("__") else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOrUnderscore || ("0"..."9").contains($0) }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetterOrUnderscore: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_"
    }
}

/// Observations in whole milliseconds, counted per upper bound (not cumulative: the
/// exposition adds them up).
struct Histogram: Equatable {
    /// Upper bounds, ascending, in milliseconds; the `+Inf` bucket is implied.
    let boundsMilliseconds: [UInt64]
    /// Observations per bound: those above the previous bound and at most this one.
    private(set) var bucketCounts: [UInt64]
    private(set) var count: UInt64 = 0
    private(set) var sumMilliseconds: UInt64 = 0

    init(boundsMilliseconds: [UInt64]) {
        precondition(zip(boundsMilliseconds, boundsMilliseconds.dropFirst()).allSatisfy { $0 < $1 })
        self.boundsMilliseconds = boundsMilliseconds
        bucketCounts = Array(repeating: 0, count: boundsMilliseconds.count)
    }

    mutating func observe(milliseconds: UInt64) {
        if let index = boundsMilliseconds.firstIndex(where: { milliseconds <= $0 }) { bucketCounts[index] += 1 }
        count += 1
        sumMilliseconds += milliseconds
    }
}
