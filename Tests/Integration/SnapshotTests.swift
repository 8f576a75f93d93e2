import FlexLVMCore
import Foundation

/// Snapshots, restores and clones from the admin CLI on real LVM, thick (COW) and thin, ext4
/// and xfs; the driver's refusal to serve snapshots; doctor's thin-pool watch.
enum SnapshotTests {
    static let cases: [TestCase] = [
        TestCase("snapshots/under-writes-thick-ext4") { try underWrites($0, fs: "ext4", thin: false) },
        TestCase("snapshots/under-writes-thin-xfs") { try underWrites($0, fs: "xfs", thin: true) },
        TestCase("snapshots/restore-thick") { try restore($0, thin: false) },
        TestCase("snapshots/restore-thin") { try restore($0, thin: true) },
        TestCase("snapshots/clone-thick-ext4-from-snapshot") { try clone($0, fs: "ext4", thin: false) },
        TestCase("snapshots/clone-thin-xfs") { try clone($0, fs: "xfs", thin: true) },
        TestCase("snapshots/doctor-thin-pool-threshold", doctorThinPool),
        TestCase("snapshots/watchdog-resumes-after-sigkill", watchdog),
    ]

    static let recordSize = 512

    /// A record: sequence number, payload derived from it, FNV-1a checksum of both.
    static func record(_ sequence: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: recordSize)
        withUnsafeBytes(of: sequence.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        for index in 8..<(recordSize - 8) { bytes[index] = UInt8(truncatingIfNeeded: sequence &* 31 &+ UInt64(index)) }
        let sum = fnv(bytes[0..<(recordSize - 8)])
        withUnsafeBytes(of: sum.littleEndian) { bytes.replaceSubrange((recordSize - 8)..<recordSize, with: $0) }
        return bytes
    }

    static func fnv(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// Checks a records file: whole records, each intact, numbered 0, 1, 2, ...; returns the count.
    static func checkRecords(_ path: String) throws -> Int {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        try expectEqual(data.count % recordSize, 0, "the records file holds whole records (\(data.count) bytes)")
        let count = data.count / recordSize
        for sequence in 0..<count {
            let slice = Array(data[(sequence * recordSize)..<((sequence + 1) * recordSize)])
            try expect(slice == record(UInt64(sequence)), "record \(sequence) of \(count) is intact and in order")
        }
        return count
    }

    /// A thread appending records to `path`, fsync'ing every 8; stops when told.
    final class Writer: @unchecked Sendable {
        let stop = Locked(false)
        let written = Locked(0)
        let longestGap = Locked(0.0)
        var thread: Thread?
        var failure = Locked<String?>(nil)

        init(path: String) {
            thread = Thread { [self] in
                let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                guard fd >= 0 else {
                    failure.withLock { $0 = "open \(path): errno \(errno)" }
                    return
                }
                defer { close(fd) }
                var sequence: UInt64 = 0
                var last = Date()
                while !stop.withLock({ $0 }) {
                    let bytes = record(sequence)
                    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, recordSize) }) == recordSize else {
                        failure.withLock { $0 = "write: errno \(errno)" }
                        return
                    }
                    sequence += 1
                    if sequence % 8 == 0 { fsync(fd) }
                    let now = Date()
                    let gap = now.timeIntervalSince(last)
                    longestGap.withLock { $0 = max($0, gap) }
                    last = now
                    written.withLock { $0 = Int(sequence) }
                }
                fsync(fd)
            }
        }

        func start() { thread?.start() }

        func finish() throws -> Int {
            stop.withLock { $0 = true }
            while !(thread?.isFinished ?? true) { usleep(10_000) }
            if let failure = failure.withLock({ $0 }) { throw TestFailure(failure) }
            return written.withLock { $0 }
        }
    }

    static func admin(_ fixture: Fixture, _ arguments: [String]) throws -> Subprocess.Result {
        try AdminTests.admin(fixture, arguments)
    }

    @discardableResult
    static func adminOK(_ fixture: Fixture, _ arguments: [String]) throws -> String {
        let result = try admin(fixture, arguments)
        try expectEqual(
            result.status, 0,
            "flexlvm \(arguments.joined(separator: " ")): \(result.standardError)\(result.standardOutput)")
        return result.standardOutput
    }

    /// An origin LV, thick or thin (in pool `pool`), inactive.
    static func makeOrigin(_ fixture: Fixture, _ name: String, fs: String, thin: Bool) throws {
        let size = fs == "xfs" ? "320M" : "32M"
        if thin {
            try fixture.run(
                "lvcreate", "-q", "-y", "-T", "-L", fs == "xfs" ? "360M" : "48M", "\(fixture.volumeGroup)/pool")
            try fixture.run(
                "lvcreate", "-q", "-y", "-V", size, "-T", "\(fixture.volumeGroup)/pool", "-n", name)
            try fixture.run("lvchange", "-q", "-an", "\(fixture.volumeGroup)/\(name)")
        } else {
            try fixture.createVolume(name, size: size)
        }
    }

    static func fsck(_ fixture: Fixture, _ device: String, fs: String) throws {
        let arguments = fs == "ext4" ? ["e2fsck", "-f", "-n", device] : ["xfs_repair", "-n", device]
        let result = try Fixture.execute(arguments)
        try expectEqual(
            result.status, 0,
            "\(arguments.joined(separator: " ")) is clean: \(result.standardOutput)\(result.standardError)")
    }

    static func underWrites(_ fixture: Fixture, fs: String, thin: Bool) throws {
        let vg = fixture.volumeGroup
        try makeOrigin(fixture, "orig", fs: fs, thin: thin)
        let extra = ["kubernetes.io/fsType": fs]
        _ = try fixture.attachAndMountDevice("orig", pv: "pv-orig", extra: extra)
        try expectSuccess(try fixture.mountPod("orig", pv: "pv-orig", pod: "p1", extra: extra))
        let file = fixture.podDir("pv-orig", pod: "p1") + "/records"
        let writer = Writer(path: file)
        writer.start()
        usleep(1_500_000)
        let before = writer.written.withLock { $0 }
        let output = try adminOK(fixture, ["snapshot", "create", "--vg", vg, "--lv", "orig", "--name", "snap"])
        try expect(
            output.contains(thin ? "thin snapshot" : "copy-on-write snapshot") && output.contains("frozen"), output)
        usleep(700_000)
        let total = try writer.finish()
        try expect(before > 0 && total > before, "the writer ran before and after the snapshot (\(before), \(total))")

        // The driver never serves a snapshot: already active (COW: with its origin; thin: by hand).
        if thin { try fixture.run("lvchange", "-q", "-ay", "-K", "\(vg)/snap") }
        for call in [
            ["waitforattach", "", fixture.options("snap", pv: "pv-snap")],
            ["attach", fixture.options("snap", pv: "pv-snap"), fixture.nodeName],
        ] {
            try expectFailure(try fixture.driver(call), mentioning: ["snapshot", "flexlvm clone"])
        }
        try expectFailure(
            try fixture.driver([
                "mountdevice", fixture.globalDir("pv-snap"), "/dev/mapper/\(vg)-snap",
                fixture.options("snap", pv: "pv-snap", extra: extra),
            ]),
            mentioning: ["snapshot"])

        // ext4: clean as it is (the freeze committed the journal, nothing to replay). xfs: a
        // frozen xfs still has a log to replay (its freeze leaves no unmount record), so the
        // snapshot is mounted once (which replays it), then checked.
        let device = "/dev/mapper/\(vg)-snap"
        if fs == "ext4" {
            // Frozen, ext4 commits its journal and clears needs_recovery: the snapshot needs no replay.
            let features = try fixture.run("dumpe2fs", "-h", device).split(separator: "\n").first {
                $0.hasPrefix("Filesystem features:")
            }
            try expect(
                features.map { !$0.contains("needs_recovery") } ?? false,
                "the snapshot's journal needs no recovery (frozen): \(features ?? "")")
            try fsck(fixture, device, fs: fs)
        }
        let mountPoint = fixture.work.appendingPathComponent("snap-mount").path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try fixture.run("mount", "-o", fs == "xfs" ? "nouuid" : "ro,noload", device, mountPoint)
        defer { _ = try? fixture.run("umount", mountPoint) }
        let count = try checkRecords(mountPoint + "/records")
        try expect(
            count >= before && count <= total, "the snapshot holds a prefix: \(count) of \(total) (\(before) before)")
        try fixture.run("umount", mountPoint)
        if fs == "xfs" { try fsck(fixture, device, fs: fs) }

        let list =
            try JSONSerialization.jsonObject(
                with: Data(try adminOK(fixture, ["snapshot", "list", "--output", "json"]).utf8)) as? [[String: Any]]
            ?? []
        let listed = list.first { $0["name"] as? String == "snap" }
        try expectEqual(listed?["origin"] as? String, "orig", "listed with its origin")
        try expectEqual(listed?["type"] as? String, thin ? "thin" : "cow", "type")
        try expectEqual(listed?["invalid"] as? Bool, false, "valid")
        let volumes = try AdminTests.volumesJSON(fixture).first { $0["lv"] as? String == "orig" }
        try expect(volumes != nil, "the origin is listed by volumes (attached through a PV)")
        try expectEqual(
            (volumes?["snapshots"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["snap"],
            "volumes shows the snapshot under its origin")
        try expect(try adminOK(fixture, ["volumes"]).contains("└ snap"), "table shows it")

        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-orig", pod: "p1")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-orig")]))
        let refused = try admin(fixture, ["snapshot", "delete", "--vg", vg, "--name", "orig"])
        try expect(refused.status != 0 && refused.standardError.contains("not a snapshot"), refused.standardError)
        try adminOK(fixture, ["snapshot", "delete", "--vg", vg, "--name", "snap"])
        try expect((try? fixture.attributes("snap")) == nil, "deleted")
    }

    static func deviceHash(_ fixture: Fixture, _ lv: String) throws -> String {
        try fixture.checksum("/dev/mapper/\(fixture.volumeGroup)-\(lv)")
    }

    static func restore(_ fixture: Fixture, thin: Bool) throws {
        let vg = fixture.volumeGroup
        try makeOrigin(fixture, "orig", fs: "ext4", thin: thin)
        _ = try fixture.attachAndMountDevice("orig", pv: "pv-orig")
        try expectSuccess(try fixture.mountPod("orig", pv: "pv-orig", pod: "p1"))
        let dir = fixture.podDir("pv-orig", pod: "p1")
        let first = try fixture.writeRandomFile(dir + "/a", bytes: 300_000)
        try adminOK(fixture, ["snapshot", "create", "--vg", vg, "--lv", "orig", "--name", "snap"])
        _ = try fixture.writeRandomFile(dir + "/a", bytes: 200_000)
        _ = try fixture.writeRandomFile(dir + "/b", bytes: 100_000)

        let busy = try admin(fixture, ["restore", "--vg", vg, "--snapshot", "snap"])
        try expect(
            busy.status != 0 && busy.standardError.contains("in use")
                && busy.standardError.contains("Nothing was changed"),
            "refused while mounted by a pod: \(busy.standardError)")
        try expectSuccess(try fixture.driver(["unmount", dir]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-orig")]))

        // The snapshot's bytes, read from its own device (a COW snapshot is active with its origin).
        try fixture.run("lvchange", "-q", "-ay", "-K", "\(vg)/\(thin ? "snap" : "orig")")
        let expected = try deviceHash(fixture, "snap")
        try fixture.run("lvchange", "-q", "-an", "\(vg)/\(thin ? "snap" : "orig")")

        let output = try adminOK(fixture, ["restore", "--vg", vg, "--snapshot", "snap"])
        if output.contains("deferred") {
            let listed = try AdminTests.volumesJSON(fixture).first { $0["lv"] as? String == "orig" }
            try expectEqual(listed?["mergePending"] as? Bool, true, "volumes shows the pending merge: \(output)")
        } else {
            try expect(output.contains("restored"), output)
        }
        // Activation starts a deferred merge; the origin reads as the snapshot at once.
        try fixture.run("lvchange", "-q", "-ay", "\(vg)/orig")
        try expectEqual(try deviceHash(fixture, "orig"), expected, "the origin holds exactly the snapshot's bytes")
        let check = fixture.work.appendingPathComponent("restored").path
        try FileManager.default.createDirectory(atPath: check, withIntermediateDirectories: true)
        try fixture.run("mount", "-o", "ro,noload", "/dev/mapper/\(vg)-orig", check)
        defer { _ = try? fixture.run("umount", check) }
        try expectEqual(try fixture.checksum(check + "/a"), first, "a is back")
        try expect(!FileManager.default.fileExists(atPath: check + "/b"), "b is gone")
    }

    static func clone(_ fixture: Fixture, fs: String, thin: Bool) throws {
        let vg = fixture.volumeGroup
        try makeOrigin(fixture, "orig", fs: fs, thin: thin)
        let extra = ["kubernetes.io/fsType": fs]
        _ = try fixture.attachAndMountDevice("orig", pv: "pv-orig", extra: extra)
        let origin = fixture.globalDir("pv-orig")
        let shared = try fixture.writeRandomFile(origin + "/shared", bytes: 100_000)
        var from = "orig"
        if !thin {
            // A thick origin in use is refused; its snapshot is cloned instead.
            let refused = try admin(fixture, ["clone", "--vg", vg, "--from", "orig", "--name", "copy"])
            try expect(refused.status != 0 && refused.standardError.contains("take a snapshot"), refused.standardError)
            try adminOK(fixture, ["snapshot", "create", "--vg", vg, "--lv", "orig", "--name", "snap"])
            from = "snap"
        }
        let yaml = try adminOK(
            fixture, ["clone", "--vg", vg, "--from", from, "--name", "copy", "--pv-name", "pv-copy"])
        for line in ["name: pv-copy", "volumeID: \"copy\"", "fsType: \(fs)"] {
            try expect(yaml.contains(line), "the clone's PV has \(line):\n\(yaml)")
        }
        let tags = try fixture.run("lvs", "--noheadings", "-o", "lv_tags,lv_attr", "\(vg)/copy")
        try expect(tags.contains("flexlvm.pv=pv-copy") && !tags.contains("flexlvm.snapshot"), "clone tags: \(tags)")
        _ = try fixture.attachAndMountDevice("copy", pv: "pv-copy", extra: extra)
        let copy = fixture.globalDir("pv-copy")
        try expectEqual(try fixture.checksum(copy + "/shared"), shared, "the clone holds the origin's data")
        let uuids = try ["orig", "copy"].map {
            try fixture.run("blkid", "-p", "-o", "value", "-s", "UUID", "/dev/mapper/\(vg)-\($0)")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try expect(uuids[0] != uuids[1] && !uuids[0].isEmpty, "different filesystem UUIDs: \(uuids)")
        _ = try fixture.writeRandomFile(copy + "/only-in-copy", bytes: 50_000)
        _ = try fixture.writeRandomFile(origin + "/only-in-origin", bytes: 50_000)
        _ = try fixture.writeRandomFile(copy + "/shared", bytes: 10_000)
        try expect(!FileManager.default.fileExists(atPath: origin + "/only-in-copy"), "copy's write not in origin")
        try expect(!FileManager.default.fileExists(atPath: copy + "/only-in-origin"), "origin's write not in copy")
        try expectEqual(try fixture.checksum(origin + "/shared"), shared, "origin's file unchanged by the copy's write")
        try expectSuccess(try fixture.driver(["unmountdevice", copy]))
        try expectSuccess(try fixture.driver(["unmountdevice", origin]))
        try fixture.run("lvchange", "-q", "-ay", "\(vg)/copy")
        try fsck(fixture, "/dev/mapper/\(vg)-copy", fs: fs)
    }

    static func doctorThinPool(_ fixture: Fixture) throws {
        let vg = fixture.volumeGroup
        try fixture.run("lvcreate", "-q", "-y", "-T", "-L", "40M", "\(vg)/pool")
        try fixture.run("lvcreate", "-q", "-y", "-V", "64M", "-T", "\(vg)/pool", "-n", "fill")
        let quiet = try admin(fixture, ["doctor", "--plugin-dir", fixture.work.path])
        try expect(
            quiet.standardOutput.contains("ok    thin pool \(vg)/pool") && quiet.standardOutput.contains("autoextend"),
            "an empty pool is fine: \(quiet.standardOutput)")
        try fixture.run(
            "dd", "if=/dev/urandom", "of=/dev/mapper/\(vg)-fill", "bs=1M", "count=36", "oflag=direct", "status=none")
        let full = try admin(fixture, ["doctor", "--plugin-dir", fixture.work.path])
        try expect(
            full.standardOutput.contains("warn  thin pool \(vg)/pool: data 9")
                && full.standardOutput.contains("LVM autoextend is off"),
            "a pool past 80% is reported: \(full.standardOutput)")
        let json = try admin(
            fixture, ["doctor", "--plugin-dir", fixture.work.path, "--thin-pool-threshold", "95", "--output", "json"])
        try expect(
            json.standardOutput.contains("\"name\":\"thin pool \(vg)/pool\",\"status\":\"ok\""),
            "threshold option: \(json.standardOutput)")
    }

    static func watchdog(_ fixture: Fixture) throws {
        let vg = fixture.volumeGroup
        try makeOrigin(fixture, "orig", fs: "ext4", thin: false)
        _ = try fixture.attachAndMountDevice("orig", pv: "pv-orig")
        let result = try Fixture.execute(
            [
                fixture.binaries.appendingPathComponent("flexlvm").path, "snapshot", "create", "--vg", vg, "--lv",
                "orig", "--name", "snap",
            ],
            environment: fixture.driverEnvironment.merging([
                "FLEXLVM_TEST_KILL_AT": "snapshot-suspended", "FLEXLVM_TEST_SUSPEND": "\(vg)-orig",
            ]) { $1 })
        // Whatever happens, the origin is not left suspended for the tests after this one.
        defer { _ = try? fixture.run("dmsetup", "resume", "\(vg)-orig") }
        try expectEqual(result.status, 128 + SIGKILL, "killed while the origin was suspended: \(result.standardError)")
        var suspended = true
        for _ in 0..<100 where suspended {
            suspended = try fixture.run("dmsetup", "info", "-c", "--noheadings", "-o", "suspended", "\(vg)-orig")
                .contains("Suspended")
            if suspended { usleep(100_000) }
        }
        try expect(!suspended, "the watchdog resumed the origin after its parent's SIGKILL")
        let write = try Subprocess.run(
            [
                "dd", "if=/dev/zero", "of=\(fixture.globalDir("pv-orig"))/after", "bs=4k", "count=1", "conv=fsync",
                "status=none",
            ],
            timeout: 30)
        try expect(write.succeeded, "the filesystem is thawed and writable")
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-orig")]))
    }
}
