import FlexLVMCore
import FlexVolume

/// LVM's JSON reports (`--reportformat json`), read by field name. liblvm2cmd prints a
/// report through its log callback, one line per message, so the JSON is put back together
/// from those lines.
extension LVM {
    /// One report row: each field asked for, by its name, as LVM printed it (sizes in bytes
    /// when `--units b --nosuffix`; "" where LVM has no value, e.g. data_percent of an
    /// inactive pool).
    public typealias ReportRow = [String: String]

    /// Runs `command` (`vgs`, `lvs`, `pvs`) with `fields` as a JSON report in bytes and
    /// returns its rows. `extra` words go after the fields (a selection, objects).
    public func report(_ command: String, fields: [String], extra: [String] = []) throws -> [ReportRow] {
        let output = try run(
            [command, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields.joined(separator: ",")]
                + extra, for: "\(command) report")
        return try Self.parseReport(output.lines, command: command)
    }

    /// The rows of a JSON report printed as `lines`. Lines that cannot be part of the JSON
    /// document (a warning LVM printed at the same level) are left out.
    static func parseReport(_ lines: [String], command: String) throws -> [ReportRow] {
        guard let start = lines.firstIndex(where: { $0.trimmingSpaces == "{" }) else {
            throw FlexLVMError(.lvm, "\(command) printed no JSON report")
        }
        let text = lines[start...].filter { line in
            guard let first = line.trimmingSpaces.first else { return false }
            return "{}[]\"".contains(first)
        }.joined(separator: "\n")
        let document: JSONValue
        do {
            document = try JSONParser.parse(Array(text.utf8))
        } catch {
            throw FlexLVMError(.lvm, "\(command) printed a JSON report that does not parse", cause: error)
        }
        // {"report": [{"vg": [{"vg_name": "...", ...}, ...]}]}
        guard case .object(let top) = document,
            case .array(let reports)? = top.first(where: { $0.key == "report" })?.value
        else {
            throw FlexLVMError(.lvm, "\(command) printed a JSON report without a \"report\" array")
        }
        var rows: [ReportRow] = []
        for case .object(let sections) in reports {
            for case (_, .array(let objects)) in sections {
                for case .object(let members) in objects {
                    var row: ReportRow = [:]
                    for (key, value) in members {
                        switch value {
                        case .string(let text), .number(let text): row[key] = text
                        default: break
                        }
                    }
                    rows.append(row)
                }
            }
        }
        return rows
    }
}

extension LVM {
    /// Size and free space of one VG.
    public struct VolumeGroupUsage: Sendable, Equatable {
        public let name: String
        public let sizeBytes: UInt64
        public let freeBytes: UInt64
    }

    /// One thin pool and how full it is.
    public struct ThinPoolUsage: Sendable, Equatable {
        public let volumeGroup: String
        public let name: String
        public let sizeBytes: UInt64
        /// data_percent / 100, or nil when LVM cannot tell (the pool is inactive).
        public let dataUsedRatio: Double?
        /// metadata_percent / 100, or nil when LVM cannot tell.
        public let metadataUsedRatio: Double?
    }

    /// Every VG's size and free space (`vgs -o vg_name,vg_size,vg_free`).
    public func volumeGroupUsage() throws -> [VolumeGroupUsage] {
        try report("vgs", fields: ["vg_name", "vg_size", "vg_free"]).map { row in
            guard let name = row["vg_name"], let size = row["vg_size"].flatMap(UInt64.init),
                let free = row["vg_free"].flatMap(UInt64.init)
            else {
                throw FlexLVMError(.lvm, "unexpected vgs report row: \(row.sorted { $0.key < $1.key })")
            }
            return VolumeGroupUsage(name: name, sizeBytes: size, freeBytes: free)
        }
    }

    /// Every thin pool's size and use (`lvs -S segtype=thin-pool -o ...,data_percent,metadata_percent`).
    public func thinPoolUsage() throws -> [ThinPoolUsage] {
        try report(
            "lvs", fields: ["vg_name", "lv_name", "segtype", "lv_size", "data_percent", "metadata_percent"],
            extra: ["-S", "segtype=thin-pool"]
        ).compactMap { row in
            guard row["segtype"] == "thin-pool" else { return nil }
            guard let vg = row["vg_name"], let name = row["lv_name"], let size = row["lv_size"].flatMap(UInt64.init)
            else {
                throw FlexLVMError(.lvm, "unexpected lvs report row: \(row.sorted { $0.key < $1.key })")
            }
            return ThinPoolUsage(
                volumeGroup: vg, name: name, sizeBytes: size, dataUsedRatio: Self.ratio(percent: row["data_percent"]),
                metadataUsedRatio: Self.ratio(percent: row["metadata_percent"]))
        }
    }

    /// LVM's percent text ("10.94") as a ratio (0.1094), parsed as the decimal it is rather
    /// than divided, so that it prints as LVM's digits; nil for "" or anything else.
    static func ratio(percent: String?) -> Double? {
        guard let text = percent?.trimmingSpaces, !text.isEmpty, Double(text) != nil,
            text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
        else { return nil }
        return Double(text + "e-2")
    }
}
