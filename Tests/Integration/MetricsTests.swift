import FlexLVMCore
import Foundation

/// `flexlvm metrics` on real LVM: its text parsed by the Prometheus client library's own
/// parser, its values checked against the LVM tools, dmsetup, findmnt and the calls made.
enum MetricsTests {
    static let cases: [TestCase] = [
        TestCase("admin/metrics-prometheus-text-against-lvm-and-calls", againstObservers)
    ]

    /// One parsed sample.
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// Parses exposition text with prometheus_client's `text_string_to_metric_families` (run
    /// with FLEXLVM_TEST_PYTHON); returns each family's name and type, and every sample.
    static func parse(_ fixture: Fixture, _ text: String) throws -> (families: [(String, String)], samples: [Sample]) {
        guard let python = ProcessInfo.processInfo.environment["FLEXLVM_TEST_PYTHON"] else {
            throw TestFailure(
                "FLEXLVM_TEST_PYTHON is not set (scripts/test sets it to the python with prometheus_client)")
        }
        let file = fixture.work.appendingPathComponent("metrics.txt").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                out.append({"name": family.name, "type": family.type, "samples": [
                    {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]})
            print(json.dumps(out))
            """
        let output = try Fixture.run([python, "-c", script, file])
        guard let families = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else {
            throw TestFailure("the parser's output is not a JSON list: \(output)")
        }
        var samples: [Sample] = []
        for family in families {
            for sample in family["samples"] as? [[String: Any]] ?? [] {
                samples.append(
                    Sample(
                        name: sample["name"] as? String ?? "", labels: sample["labels"] as? [String: String] ?? [:],
                        value: (sample["value"] as? NSNumber)?.doubleValue ?? .nan))
            }
        }
        return (families.map { ($0["name"] as? String ?? "", $0["type"] as? String ?? "") }, samples)
    }

    static func againstObservers(_ fixture: Fixture) throws {
        // A fresh log: reply counts start with it (as after a rotation).
        try? FileManager.default.removeItem(atPath: fixture.logPath)
        let vg = fixture.volumeGroup
        // kubelet's root dir exists on every node; the driver never creates it.
        try FileManager.default.createDirectory(atPath: fixture.kubeletRoot, withIntermediateDirectories: true)

        // A thick LV provisioned (tagged flexlvm and flexlvm.pv=pv-mthick), one tagged by hand
        // and left inactive, one not flexlvm's, and a thin pool with a thin LV that becomes
        // flexlvm's by being attached (recorded in the state dir).
        let provisioned = try AdminTests.admin(
            fixture, ["provision", "--vg", vg, "--name", "mthick", "--size", "40Mi", "--pv-name", "pv-mthick"])
        try expectEqual(provisioned.status, 0, "provision: \(provisioned.standardError)")
        try fixture.createVolume("mthick2", size: "24M")
        try fixture.run("lvchange", "-q", "--addtag", "flexlvm", "\(vg)/mthick2")
        try fixture.createVolume("muntagged", size: "8M")
        try fixture.run("lvcreate", "-q", "-y", "-L", "64M", "-T", "\(vg)/mpool")
        try fixture.run("lvcreate", "-q", "-y", "-V", "48M", "-T", "\(vg)/mpool", "-n", "mthin")
        try fixture.run("lvchange", "-q", "-an", "\(vg)/mthin")

        // Driver calls; every reply is counted by operation and status.
        var expected: [String: Int] = [:]
        func call(_ arguments: [String], binary: String? = nil) throws -> DriverReply {
            let reply = try fixture.driver(arguments, binary: binary)
            expected["\(arguments[0]) \(reply.status)", default: 0] += 1
            return reply
        }
        // init as the node binary answers it (the driver file answers init without logging).
        try expectSuccess(try call(["init"], binary: fixture.binaries.appendingPathComponent("flexlvm-node").path))
        let thinJSON = fixture.options("mthin", pv: "pv-mthin")
        let attached = try call(["attach", thinJSON, fixture.nodeName])
        try expectSuccess(attached)
        let waited = try call(["waitforattach", attached.device ?? "", thinJSON])  // the driver file's hot path
        try expectSuccess(waited)
        try expectSuccess(try call(["mountdevice", fixture.globalDir("pv-mthin"), waited.device ?? "", thinJSON]))
        try fixture.run(
            "dd", "if=/dev/urandom", "of=\(fixture.globalDir("pv-mthin"))/data", "bs=1M", "count=12", "conv=fsync",
            "status=none")
        let thickJSON = fixture.options("mthick", pv: "pv-mthick")
        try expectSuccess(try call(["attach", thickJSON, fixture.nodeName]))
        try expectSuccess(try call(["isattached", thickJSON, fixture.nodeName]))  // hot path too
        try expectFailure(
            try call(["attach", fixture.options("mmissing", pv: "pv-mmissing"), fixture.nodeName]),
            mentioning: ["mmissing"])

        // flexlvm metrics, through the driver file (which hands admin commands to the node binary).
        // The pool's use is read just before and just after: ext4's lazy inode-table init
        // goes on writing in the background, so it may grow meanwhile.
        let poolWords = [
            "lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "data_percent,metadata_percent,lv_size",
            "\(vg)/mpool",
        ]
        let poolBefore = try Fixture.run(poolWords).split(whereSeparator: \.isWhitespace).map(String.init)
        let result = try AdminTests.admin(fixture, ["metrics"])
        let poolAfter = try Fixture.run(poolWords).split(whereSeparator: \.isWhitespace).map(String.init)
        try expectEqual(result.status, 0, "metrics exit status (\(result.standardError))")
        let text = result.standardOutput
        let (families, samples) = try parse(fixture, text)

        var problems: [String] = []
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { problems.append(message()) }
        }
        func values(_ name: String, _ labels: [String: String]) -> [Double] {
            samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
                .map(\.value)
        }
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            let found = values(name, labels)
            check(found.count == 1, "one sample \(name)\(labels), found \(found)")
            return found.first
        }
        func observed(_ words: String...) throws -> [String] {
            try Fixture.run(words).split(whereSeparator: \.isWhitespace).map(String.init)
        }

        // Each family's HELP and TYPE once, before its samples.
        let lines = text.split(separator: "\n").map(String.init)
        for (index, (name, kind)) in families.enumerated() where !families[..<index].contains(where: { $0.0 == name }) {
            // The parser names a counter's family without its _total suffix.
            let metricName = kind == "counter" ? name + "_total" : name
            let help = lines.firstIndex { $0.hasPrefix("# HELP \(metricName) ") }
            let type = lines.firstIndex { $0.hasPrefix("# TYPE \(metricName) ") }
            check(lines.filter { $0.hasPrefix("# HELP \(metricName) ") }.count == 1, "one HELP for \(metricName)")
            check(lines.filter { $0.hasPrefix("# TYPE \(metricName) ") }.count == 1, "one TYPE for \(metricName)")
            let first = lines.firstIndex { !$0.hasPrefix("#") && $0.hasPrefix(metricName) }
            check(
                help != nil && type != nil && first != nil && help! < type! && type! < first!,
                "HELP and TYPE of \(metricName) before its samples")
        }
        check(Set(families.map(\.0)).count == families.count, "each family once: \(families.map(\.0))")
        for (name, type) in [
            ("flexlvm_vg_size_bytes", "gauge"), ("flexlvm_vg_free_bytes", "gauge"),
            ("flexlvm_thin_pool_size_bytes", "gauge"), ("flexlvm_thin_pool_data_used_ratio", "gauge"),
            ("flexlvm_thin_pool_metadata_used_ratio", "gauge"), ("flexlvm_lv_size_bytes", "gauge"),
            ("flexlvm_lv_active", "gauge"), ("flexlvm_lv_open_count", "gauge"), ("flexlvm_lv_mounted", "gauge"),
            ("flexlvm_operation_replies", "counter"), ("flexlvm_operation_duration_seconds", "histogram"),
        ] {
            check(families.contains { $0 == (name, type) }, "family \(name) of type \(type) in \(families)")
        }

        // VGs: size and free as vgs says, both VGs.
        for group in [vg, fixture.otherVolumeGroup] {
            let fields = try observed(
                "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size,vg_free", group)
            check(
                value("flexlvm_vg_size_bytes", ["vg": group]) == Double(fields[0]),
                "vg_size of \(group): lvm \(fields[0])")
            check(
                value("flexlvm_vg_free_bytes", ["vg": group]) == Double(fields[1]),
                "vg_free of \(group): lvm \(fields[1])")
        }

        // The thin pool: size, and data and metadata use as LVM's percent / 100 (to LVM's two
        // decimals), between what lvs said before and after.
        let poolLabels = ["vg": vg, "pool": "mpool"]
        check(
            value("flexlvm_thin_pool_size_bytes", poolLabels) == Double(poolAfter[2]),
            "pool size: lvm \(poolAfter[2])")
        for (index, field, name) in [
            (0, "data_percent", "flexlvm_thin_pool_data_used_ratio"),
            (1, "metadata_percent", "flexlvm_thin_pool_metadata_used_ratio"),
        ] {
            let ratio = value(name, poolLabels) ?? -1
            // Thin-pool metadata use moves both ways between dm-thin transactions (seen: 10.94%
            // before and after, 11.33% between), so the bound is the two readings widened by one
            // percentage point, not their interval.
            let readings = [Double(poolBefore[index])! / 100, Double(poolAfter[index])! / 100]
            let low = readings.min()! - 0.01
            let high = readings.max()! + 0.01
            check(
                ratio >= low && ratio <= high && ratio > 0.01,
                "\(name) \(ratio): lvm \(field) \(poolBefore[index]) before, \(poolAfter[index]) after")
        }

        // LVs: exactly flexlvm's in the test VG, with size, active, open and mounted as the
        // tools say.
        let listed = Set(
            samples.filter { $0.name == "flexlvm_lv_size_bytes" && $0.labels["vg"] == vg }.map { $0.labels["lv"] ?? "" }
        )
        check(listed == ["mthick", "mthick2", "mthin"], "LVs listed in \(vg): \(listed.sorted())")
        for (lv, pv) in [("mthick", "pv-mthick"), ("mthick2", ""), ("mthin", "pv-mthin")] {
            let labels = ["vg": vg, "lv": lv, "pv": pv]
            let size = try observed("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", "\(vg)/\(lv)")
            check(value("flexlvm_lv_size_bytes", labels) == Double(size[0]), "size of \(lv): lvm \(size[0])")
            let active = try fixture.isActive(lv)
            let open =
                active
                ? Double(try observed("dmsetup", "info", "-c", "--noheadings", "-o", "open", "\(vg)-\(lv)")[0]) : 0
            let mounted = try Fixture.execute(["findmnt", "-rn", "-S", "/dev/mapper/\(vg)-\(lv)"]).status == 0
            check(value("flexlvm_lv_active", labels) == (active ? 1 : 0), "active of \(lv): lvm says \(active)")
            check(value("flexlvm_lv_open_count", labels) == open, "open count of \(lv): dmsetup says \(open ?? -1)")
            check(value("flexlvm_lv_mounted", labels) == (mounted ? 1 : 0), "mounted of \(lv): findmnt says \(mounted)")
        }
        // The cases the checks above must have covered: mounted and open, active but idle, inactive.
        let thinActive = try fixture.isActive("mthin")
        let thick2Active = try fixture.isActive("mthick2")
        check(thinActive && !thick2Active, "mthin active, mthick2 inactive")
        check(value("flexlvm_lv_mounted", ["lv": "mthin"]) == 1, "mthin is mounted")
        check((value("flexlvm_lv_open_count", ["lv": "mthin"]) ?? 0) >= 1, "mthin is open")
        check(
            value("flexlvm_lv_active", ["lv": "mthick"]) == 1 && value("flexlvm_lv_mounted", ["lv": "mthick"]) == 0,
            "mthick active and not mounted")

        // Replies: one per call made, by operation and status.
        var counted: [String: Int] = [:]
        for sample in samples where sample.name == "flexlvm_operation_replies_total" {
            counted["\(sample.labels["op"] ?? "") \(sample.labels["status"] ?? "")"] = Int(sample.value)
        }
        check(
            counted == expected,
            "replies counted \(counted.sorted { $0.key < $1.key }), calls made \(expected.sorted { $0.key < $1.key })")

        // Durations: the replies the log records with "ms" (the node binary's), per operation.
        var timed: [String: (count: Int, seconds: Double)] = [:]
        let log = (try? String(contentsOfFile: fixture.logPath, encoding: .utf8)) ?? ""
        for line in log.split(separator: "\n") {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                record["event"] as? String == "reply", let op = record["op"] as? String,
                let ms = (record["ms"] as? String).flatMap(Double.init)
            else { continue }
            timed[op, default: (0, 0)].count += 1
            timed[op, default: (0, 0)].seconds += ms / 1000
        }
        check(timed["isattached"] == nil && timed["waitforattach"] == nil, "hot-path replies carry no time: \(timed)")
        let histogramOps = Set(
            samples.filter { $0.name == "flexlvm_operation_duration_seconds_count" }.map { $0.labels["op"] ?? "" })
        check(
            histogramOps == Set(timed.keys),
            "histograms for \(histogramOps.sorted()), timed replies \(timed.keys.sorted())")
        for (op, observation) in timed {
            let buckets = samples.filter {
                $0.name == "flexlvm_operation_duration_seconds_bucket" && $0.labels["op"] == op
            }
            let count = value("flexlvm_operation_duration_seconds_count", ["op": op])
            check(count == Double(observation.count), "\(op) histogram count \(count ?? -1), log \(observation.count)")
            check(
                abs((value("flexlvm_operation_duration_seconds_sum", ["op": op]) ?? -1) - observation.seconds) < 1e-6,
                "\(op) histogram sum, log \(observation.seconds)")
            check(
                buckets.first { $0.labels["le"] == "+Inf" }?.value == count, "\(op) +Inf bucket equals the count")
            let sorted = buckets.sorted { Double($0.labels["le"]!)! < Double($1.labels["le"]!)! }.map(\.value)
            check(zip(sorted, sorted.dropFirst()).allSatisfy { $0 <= $1 }, "\(op) buckets cumulative: \(sorted)")
        }

        // --output-file: the same text, written atomically with mode 0644, nothing else left.
        let collector = fixture.work.appendingPathComponent("textfile_collector")
        try FileManager.default.createDirectory(at: collector, withIntermediateDirectories: true)
        let promFile = collector.appendingPathComponent("flexlvm.prom").path
        let written = try AdminTests.admin(fixture, ["metrics", "--output-file", promFile])
        check(written.status == 0 && written.stdout.isEmpty, "metrics --output-file: \(written.standardError)")
        // The same text but for the pool's use, which may have grown since.
        let steady = { (text: String) in
            text.split(separator: "\n").filter { !$0.hasPrefix("flexlvm_thin_pool_") || !$0.contains("_used_ratio{") }
        }
        check(
            steady((try? String(contentsOfFile: promFile, encoding: .utf8)) ?? "") == steady(text),
            "the file holds the same text")
        let mode = try FileManager.default.attributesOfItem(atPath: promFile)[.posixPermissions] as? Int
        check(mode == 0o644, "mode \(String(mode ?? 0, radix: 8))")
        check(
            try FileManager.default.contentsOfDirectory(atPath: collector.path) == ["flexlvm.prom"],
            "only flexlvm.prom in the collector dir")

        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-mthin")]))
        if !problems.isEmpty {
            throw TestFailure("\(problems.count) checks failed:\n  " + problems.joined(separator: "\n  ") + "\n" + text)
        }
    }
}
