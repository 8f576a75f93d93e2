import FlexLVMCore
import Foundation

/// Crashes mid-operation, races on one volume, volumes changed underneath, and data across
/// many cycles, in attach mode.
enum ReliabilityTests {
    static let cases: [TestCase] =
        [
            TestCase("reliability/sigkill-at-each-step-converges", crashes),
            TestCase("reliability/two-processes-same-operation", sameOperationRaces),
            TestCase("reliability/sixteen-volumes-at-once", sixteenVolumes),
            TestCase("reliability/lv-changed-underneath", changedUnderneath),
        ] + ["ext4", "xfs"].map { fs in TestCase("reliability/50-cycles-data-\(fs)") { try cycles($0, fs: fs) } }

    /// Runs the driver with `FLEXLVM_TEST_KILL_AT=step` and expects it to die by SIGKILL.
    static func killed(_ fixture: Fixture, at step: String, _ arguments: [String]) throws {
        let result = try Fixture.execute(
            [fixture.binaries.appendingPathComponent("flexlvm").path] + arguments,
            environment: fixture.driverEnvironment.merging(["FLEXLVM_TEST_KILL_AT": step]) { $1 })
        try expectEqual(result.status, 128 + SIGKILL, "the driver was killed at \(step) (\(result.standardOutput))")
    }

    /// Device-mapper devices of the test VG and mounts under the work dir.
    static func leaks(_ fixture: Fixture) -> [String] {
        let state = NodeState.kernel()
        return state.deviceMapper.filter { $0.hasPrefix("flexlvm_it-") }
            + state.mounts.filter { $0.contains(fixture.work.path + "/") }
    }

    /// The whole kubelet order after whatever a crash left, then teardown.
    static func completeOrder(_ fixture: Fixture, _ lv: String, pv: String) throws {
        _ = try fixture.attachAndMountDevice(lv, pv: pv)
        try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "p"))
        let sum = try fixture.writeRandomFile(fixture.podDir(pv, pod: "p") + "/f", bytes: 65536)
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir(pv, pod: "p")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
        try expectSuccess(try fixture.driver(["detach", pv, fixture.nodeName]))
        try fsck(fixture, lv, fs: "ext4")
        _ = sum
    }

    /// Checks the filesystem of an inactive LV read-only (e2fsck -fn / xfs_repair -n).
    static func fsck(_ fixture: Fixture, _ lv: String, fs: String) throws {
        let path = "\(fixture.volumeGroup)/\(lv)"
        try fixture.run("lvchange", "-q", "-ay", path)
        defer { _ = try? fixture.run("lvchange", "-q", "-an", path) }
        let device = "/dev/\(path)"
        if fs == "xfs" { try fixture.run("xfs_repair", "-n", device) } else { try fixture.run("e2fsck", "-fn", device) }
    }

    static func crashes(_ fixture: Fixture) throws {
        let steps: [(String, String)] = [
            ("activate-before", "waitforattach"), ("activate-after", "waitforattach"), ("mkfs-before", "mountdevice"),
            ("mkfs-running", "mountdevice"), ("mkfs-after", "mountdevice"), ("mount-filesystem-before", "mountdevice"),
            ("mount-before-bind", "mount"), ("deactivate-before", "unmountdevice"),
        ]
        for (index, (step, operation)) in steps.enumerated() {
            let lv = "crash\(index)"
            let pv = "pv-crash\(index)"
            try fixture.createVolume(lv, size: "64M")
            let json = fixture.options(lv, pv: pv)
            let device = "/dev/mapper/flexlvm_it-\(lv)"
            switch operation {
            case "waitforattach":
                try killed(fixture, at: step, ["waitforattach", device, json])
                try expectSuccess(try fixture.driver(["waitforattach", device, json]))
            case "mountdevice":
                try expectSuccess(try fixture.driver(["waitforattach", device, json]))
                try killed(fixture, at: step, ["mountdevice", fixture.globalDir(pv), device, json])
                let blank = fixture.blkidType(device)
                try expect(["", "ext4"].contains(blank), "after a crash at \(step) the LV is blank or ext4: \(blank)")
                try expectSuccess(try fixture.driver(["mountdevice", fixture.globalDir(pv), device, json]))
                try expectEqual(fixture.blkidType(device), "ext4", "formatted after the retry at \(step)")
                try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
                try fsck(fixture, lv, fs: "ext4")
            case "mount":
                _ = try fixture.attachAndMountDevice(lv, pv: pv)
                try killed(fixture, at: step, ["mount", fixture.podDir(pv, pod: "p"), fixture.options(lv, pv: pv)])
                try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "p"))
                try expect(fixture.mountInfo(at: fixture.podDir(pv, pod: "p")) != nil, "bound after the retry")
                try expectSuccess(try fixture.driver(["unmount", fixture.podDir(pv, pod: "p")]))
                try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
            default:  // unmountdevice
                _ = try fixture.attachAndMountDevice(lv, pv: pv)
                try killed(fixture, at: step, ["unmountdevice", fixture.globalDir(pv)])
                try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
                try expect(!(try fixture.isActive(lv)), "released by the retried unmountdevice")
            }
            try completeOrder(fixture, lv, pv: pv)
            try expectEqual(leaks(fixture), [], "nothing leaked after a crash at \(step)")
        }
    }

    /// Runs `count` driver calls at once and returns their replies.
    static func concurrently(_ fixture: Fixture, _ calls: [[String]]) throws -> [DriverReply] {
        let results = Locked<[Int: Result<DriverReply, Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: calls.count) { index in
            let result = Result { try fixture.driver(calls[index]) }
            results.withLock { $0[index] = result }
        }
        let collected = results.withLock { $0 }
        return try (0..<calls.count).map { index in try collected[index]!.get() }
    }

    static func sameOperationRaces(_ fixture: Fixture) throws {
        try fixture.createVolume("race", size: "64M")
        let json = fixture.options("race", pv: "pv-race")
        let device = "/dev/mapper/flexlvm_it-race"
        for reply in try concurrently(fixture, [["waitforattach", device, json], ["waitforattach", device, json]]) {
            try expectEqual(reply.device, device, "both waitforattach calls answer the device")
        }
        let logOffset = fixture.logSize
        let mountdevice = ["mountdevice", fixture.globalDir("pv-race"), device, json]
        for reply in try concurrently(fixture, [mountdevice, mountdevice]) { try expectSuccess(reply) }
        let stacked = NodeState.kernel().mounts.filter { $0.contains(" \(fixture.globalDir("pv-race")) ") }
        try expectEqual(stacked.count, 1, "mounted once")
        let log = FileManager.default.contents(atPath: fixture.logPath) ?? Data()
        let mkfsRuns =
            String(decoding: log.dropFirst(logOffset), as: UTF8.self)
            .components(separatedBy: "\"event\":\"mkfs\"").count - 1
        try expectEqual(mkfsRuns, 1, "one mkfs")
        let unmountdevice = ["unmountdevice", fixture.globalDir("pv-race")]
        for reply in try concurrently(fixture, [unmountdevice, unmountdevice]) { try expectSuccess(reply) }
        try expect(!(try fixture.isActive("race")), "released")
        try expectSuccess(try fixture.driver(["attach", json, fixture.nodeName]))
        let detach = ["detach", "pv-race", fixture.nodeName]
        for reply in try concurrently(fixture, [detach, detach]) { try expectSuccess(reply) }
        try expect(!(try fixture.isActive("race")), "detached")
        try expectEqual(leaks(fixture), [], "no leaks")
    }

    static func sixteenVolumes(_ fixture: Fixture) throws {
        for index in 0..<16 { try fixture.createVolume("many\(index)", size: "32M") }
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            do {
                let lv = "many\(index)"
                let pv = "pv-many\(index)"
                _ = try fixture.attachAndMountDevice(lv, pv: pv)
                try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "p\(index)"))
                let sum = try fixture.writeRandomFile(fixture.podDir(pv, pod: "p\(index)") + "/f", bytes: 65536)
                try expectEqual(try fixture.checksum(fixture.globalDir(pv) + "/f"), sum, "data of \(lv)")
                try expectSuccess(try fixture.driver(["unmount", fixture.podDir(pv, pod: "p\(index)")]))
                try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
                try expectSuccess(try fixture.driver(["detach", pv, fixture.nodeName]))
            } catch {
                failures.withLock { $0.append("many\(index): \(error)") }
            }
        }
        try expectEqual(failures.withLock { $0 }, [], "errors")
        try expectEqual(leaks(fixture), [], "no leaked mounts or DM devices")
    }

    static func changedUnderneath(_ fixture: Fixture) throws {
        try fixture.createVolume("under", size: "64M")
        let json = fixture.options("under", pv: "pv-under")
        _ = try fixture.attachAndMountDevice("under", pv: "pv-under")
        try expectSuccess(try fixture.mountPod("under", pv: "pv-under", pod: "p"))
        let sum = try fixture.writeRandomFile(fixture.podDir("pv-under", pod: "p") + "/f", bytes: 65536)
        let deactivate = try Fixture.execute(["lvchange", "-an", "flexlvm_it/under"])
        try expect(deactivate.status != 0, "LVM refuses to deactivate an open LV")
        let remove = try Fixture.execute(["lvremove", "-f", "flexlvm_it/under"])
        try expect(remove.status != 0, "LVM refuses to remove an open LV")
        try expectEqual(try fixture.driver(["isattached", json, fixture.nodeName]).attached, true, "isattached")
        try expectSuccess(try fixture.driver(["waitforattach", "/dev/mapper/flexlvm_it-under", json]))
        try expectSuccess(
            try fixture.driver(["mountdevice", fixture.globalDir("pv-under"), "/dev/mapper/flexlvm_it-under", json]))
        try expectFailure(try fixture.driver(["detach", "pv-under", fixture.nodeName]), mentioning: ["open by"])
        try expectEqual(try fixture.checksum(fixture.podDir("pv-under", pod: "p") + "/f"), sum, "data intact")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-under", pod: "p")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-under")]))
        try expectSuccess(try fixture.driver(["detach", "pv-under", fixture.nodeName]))
        try expectEqual(leaks(fixture), [], "no leaks")
    }

    static func cycles(_ fixture: Fixture, fs: String) throws {
        let lv = "cycles-\(fs)"
        let pv = "pv-cycles-\(fs)"
        try fixture.createVolume(lv, size: fs == "xfs" ? "320M" : "64M")
        let extra = ["kubernetes.io/fsType": fs]
        var sums: [String: String] = [:]
        for cycle in 1...50 {
            _ = try fixture.attachAndMountDevice(lv, pv: pv, extra: extra)
            try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "c\(cycle)", extra: extra))
            let dir = fixture.podDir(pv, pod: "c\(cycle)")
            // Every file written so far reads back byte for byte.
            if !sums.isEmpty {
                let names = sums.keys.sorted()
                let output = try Fixture.run(["sha256sum"] + names.map { "\(dir)/\($0)" })
                for (line, name) in zip(output.split(separator: "\n"), names) {
                    try expectEqual(String(line.prefix(64)), sums[name]!, "\(name) in cycle \(cycle)")
                }
            }
            sums["cycle\(cycle).bin"] = try fixture.writeRandomFile(
                "\(dir)/cycle\(cycle).bin", bytes: 64 * 1024 + cycle * 4099)
            try expectSuccess(try fixture.driver(["unmount", dir]))
            try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
            try expectSuccess(try fixture.driver(["detach", pv, fixture.nodeName]))
            try expect(!(try fixture.isActive(lv)), "released in cycle \(cycle)")
            if cycle % 25 == 0 { try fsck(fixture, lv, fs: fs) }
        }
        try expectEqual(leaks(fixture), [], "no leaks")
    }
}

/// A value behind a lock, for tests that run calls concurrently.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
