import FlexLVMCore
import Testing

@testable import Admin
@testable import LVM

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm metrics`' pieces that need no LVM: the exposition writer, the log parser and
/// LVM's JSON report parser.
@Suite("metrics")
struct MetricsTests {
    @Test func labelValuesAreEscaped() {
        var out = Exposition()
        out.add("m", .gauge, help: "h", labels: [("lv", "a\\b\"c\nd")], value: "1")
        #expect(out.text.split(separator: "\n").last == #"m{lv="a\\b\"c\nd"} 1"#)
        #expect(Exposition.escapeLabelValue("plain-name_1.x") == "plain-name_1.x")
        #expect(Exposition.escapeHelp("a\\b\nc\"") == #"a\\b\nc""#)
    }

    @Test func helpAndTypeOnceBeforeTheirSamples() {
        var out = Exposition()
        out.add("flexlvm_a", .gauge, help: "A.", labels: [("vg", "x")], value: "1")
        out.add("flexlvm_b", .counter, help: "B.", labels: [("vg", "x")], value: "2")
        out.add("flexlvm_a", .gauge, help: "A.", labels: [("vg", "y")], value: "3")
        out.add("flexlvm_b", .counter, help: "B.", labels: [("vg", "y")], value: "4")
        #expect(
            out.text == """
                # HELP flexlvm_a A.
                # TYPE flexlvm_a gauge
                flexlvm_a{vg="x"} 1
                flexlvm_a{vg="y"} 3
                # HELP flexlvm_b B.
                # TYPE flexlvm_b counter
                flexlvm_b{vg="x"} 2
                flexlvm_b{vg="y"} 4

                """)
        #expect(Exposition().text == "")
    }

    @Test func histogramBucketsAreCumulative() {
        var histogram = Histogram(boundsMilliseconds: [5, 100, 1000])
        for milliseconds: UInt64 in [0, 5, 6, 100, 2500, 70] { histogram.observe(milliseconds: milliseconds) }
        var out = Exposition()
        out.add("d_seconds", help: "D.", labels: [("op", "attach")], histogram: histogram)
        let lines = out.text.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "# HELP d_seconds D.", "# TYPE d_seconds histogram",
                #"d_seconds_bucket{op="attach",le="0.005"} 2"#, #"d_seconds_bucket{op="attach",le="0.1"} 5"#,
                #"d_seconds_bucket{op="attach",le="1"} 5"#, #"d_seconds_bucket{op="attach",le="+Inf"} 6"#,
                #"d_seconds_sum{op="attach"} 2.681"#, #"d_seconds_count{op="attach"} 6"#,
            ])
        // The buckets never decrease and +Inf equals _count.
        let counts = lines.filter { $0.hasPrefix("d_seconds_bucket") }.map { UInt64($0.split(separator: " ")[1])! }
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(counts.last == histogram.count)
    }

    @Test func numbers() {
        #expect(Exposition.seconds(milliseconds: 0) == "0")
        #expect(Exposition.seconds(milliseconds: 5) == "0.005")
        #expect(Exposition.seconds(milliseconds: 2500) == "2.5")
        #expect(Exposition.seconds(milliseconds: 60_000) == "60")
        #expect(Exposition.number(.infinity) == "+Inf")
        #expect(Exposition.number(-.infinity) == "-Inf")
        #expect(Exposition.number(.nan) == "NaN")
        #expect(Exposition.number(0.1094) == "0.1094")
        #expect(Exposition.number(1) == "1")
        #expect(LVM.ratio(percent: "10.94") == 0.1094)
        #expect(LVM.ratio(percent: "100.00") == 1)
        #expect(LVM.ratio(percent: "0.00") == 0)
        #expect(LVM.ratio(percent: "") == nil)
        #expect(LVM.ratio(percent: "-1") == nil)
    }

    static let sampleLog = """
        {"time":"2026-11-25T10:00:00.000Z","level":"info","event":"call","op":"attach","pid":"10","volume":"vg/lv"}
        {"time":"2026-11-25T10:00:00.010Z","level":"debug","event":"lvm-command","op":"attach","pid":"10","detail":"lvchange -ay vg/lv"}
        {"time":"2026-11-25T10:00:00.400Z","level":"info","event":"reply","op":"attach","pid":"10","status":"Success","ms":"400","device":"/dev/mapper/vg-lv"}
        {"time":"2026-11-25T10:00:01.000Z","level":"info","event":"reply","op":"attach","pid":"11","status":"Success","ms":"3"}
        {"time":"2026-11-25T10:00:02.000Z","level":"error","event":"reply","op":"attach","pid":"12","status":"Failure","ms":"70","message":"no"}
        {"time":"2026-11-25T10:00:03.000Z","level":"info","event":"reply","op":"isattached","side":"node-hot-path","status":"Success","detail":"x"}
        {"time":"2026-11-25T10:00:04.000Z","level":"info","event":"reply","op":"detach","side":"controller","status":"Success","detail":"y"}
        {"time":"2026-11-25T10:00:05.000Z","level":"error","event":"reply","op":"'attach'","pid":"13","status":"Failure","ms":"1","message":"attach takes 2 arguments"}
        {"time":"2026-11-25T10:00:06.000Z","level":"error","event":"reply","op":"'rm -rf \\\\x0a'","pid":"14","status":"Failure","ms":"2"}
        {"time":"2026-11-25T10:00:07.000Z","level":"info","event":"reply","op":"getvolumename","pid":"15","status":"Not supported","ms":"1"}
        {"time":"2026-11-25T10:00:08.000Z","level":"info","event":"reply","op":"mount","pid":"16","status":"Succ
        {"time":"2026-11-25T10:00:09.000Z","level":"info","event":"call","op":"mount","detail":"\\"event\\":\\"reply\\""}
        not json with "event":"reply" in it
        {"time":"2026-11-25T10:00:10.000Z","level":"info","event":"reply","op":"mount","pid":"17","status":"Success","ms":"61000"}
        """

    @Test func logParserCountsRepliesAndTimesThoseWithMilliseconds() {
        let log = OperationLog(text: Self.sampleLog)
        let counts = Dictionary(
            uniqueKeysWithValues: log.replies.map { ("\($0.key.operation) \($0.key.status)", $0.value) })
        #expect(
            counts == [
                "attach Success": 2, "attach Failure": 2, "isattached Success": 1, "detach Success": 1,
                "other Failure": 1, "getvolumename Not supported": 1, "mount Success": 1,
            ])
        // Only replies with "ms" are timed: not the driver file's own (isattached, detach).
        #expect(Set(log.durations.keys) == ["attach", "other", "getvolumename", "mount"])
        let attach = log.durations["attach"]!
        #expect(attach.count == 4)
        #expect(attach.sumMilliseconds == 400 + 3 + 70 + 1)
        var out = Exposition()
        out.add("d", help: "D.", labels: [("op", "attach")], histogram: attach)
        #expect(out.text.contains(#"d_bucket{op="attach",le="0.005"} 2"#))
        #expect(out.text.contains(#"d_bucket{op="attach",le="0.1"} 3"#))
        #expect(out.text.contains(#"d_bucket{op="attach",le="0.25"} 3"#))
        #expect(out.text.contains(#"d_bucket{op="attach",le="0.5"} 4"#))
        #expect(out.text.contains(#"d_bucket{op="attach",le="+Inf"} 4"#))
        #expect(out.text.contains(#"d_sum{op="attach"} 0.474"#))
        // Above the last bound: only in +Inf.
        let mount = log.durations["mount"]!
        #expect(mount.bucketCounts.allSatisfy { $0 == 0 } && mount.count == 1)
    }

    @Test func logFileIsReadLineByLine() throws {
        let path = "/tmp/flexlvm-metrics-test-\(getpid()).log"
        defer { unlink(path) }
        #expect(try OperationLog.read(path: path) == OperationLog())  // missing: nothing yet
        // A huge line between records, and a last record without a newline.
        let huge =
            #"{"event":"reply","op":"attach","status":"Success","x":""#
            + String(repeating: "y", count: JSONParser.maximumSize + 10) + "\"}\n"
        let text = Self.sampleLog + "\n" + huge + Self.sampleLog
        try Files.writeAtomically(path, Array(text.utf8))
        let log = try OperationLog.read(path: path)
        #expect(log.replies[.init(operation: "attach", status: "Success")] == 4)
        #expect(log.replies[.init(operation: "mount", status: "Success")] == 2)
        #expect(log.durations["attach"]?.count == 8)
    }

    @Test func lvmJSONReportRowsByFieldName() throws {
        let lines = [
            "  WARNING: something LVM says at print level.", "{", "    \"report\": [", "        {",
            "            \"lv\": [",
            #"                {"vg_name":"vg", "lv_name":"pool", "lv_size":"67108864", "data_percent":"12.50", "metadata_percent":""},"#,
            #"                {"vg_name":"vg", "lv_name":"thick", "lv_size":"16777216", "data_percent":"", "metadata_percent":""}"#,
            "            ]", "        }", "    ]", "}",
        ]
        let rows = try LVM.parseReport(lines, command: "lvs")
        #expect(rows.count == 2)
        #expect(rows[0]["lv_name"] == "pool" && rows[0]["lv_size"] == "67108864" && rows[0]["data_percent"] == "12.50")
        #expect(rows[1]["metadata_percent"] == "")
        #expect(throws: FlexLVMError.self) { try LVM.parseReport(["no report"], command: "vgs") }
    }
}
