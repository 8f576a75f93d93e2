import FlexLVMCore

/// A Kubernetes resource quantity for sizes: `10Gi`, `500M`, `1.5Gi`, `1073741824`.
public enum Quantity {
    static let suffixes: [(String, Double)] = [
        ("Ki", 1024.0), ("Mi", 1_048_576.0), ("Gi", 1_073_741_824.0), ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0), ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// Bytes for `text`, rounded up to a whole byte; refuses zero, negative and fractional-byte forms.
    public static func bytes(_ text: String) throws -> UInt64 {
        let trimmed = text.trimmingSpaces
        var number = Substring(trimmed)
        var multiplier = 1.0
        for (suffix, value) in suffixes where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            multiplier = value
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, let value = Double(number), value > 0
        else {
            throw FlexLVMError(
                .invalidArgument,
                "size \(quoted(text)) is not a positive Kubernetes quantity such as 10Gi, 500M or 1073741824")
        }
        let bytes = (value * multiplier).rounded(.up)
        guard bytes < 9.0e18 else { throw FlexLVMError(.invalidArgument, "size \(quoted(text)) is too large") }
        return UInt64(bytes)
    }

    /// `bytes` in the largest binary unit that divides it, as Kubernetes writes quantities.
    public static func format(_ bytes: UInt64) -> String {
        for (suffix, value) in suffixes.prefix(6).reversed() where bytes % UInt64(value) == 0 && bytes >= UInt64(value)
        {
            return "\(bytes / UInt64(value))\(suffix)"
        }
        return String(bytes)
    }
}
