import FlexLVMCore
import Foundation

/// The rules that keep pods away from data that is not theirs, and data away from mkfs.
enum SafetyTests {
    static let cases: [TestCase] = [
        TestCase("safety/lv-mounted-outside-kubelet-is-refused", mountedOutside),
        TestCase("safety/volume-groups-allow-list", allowList),
        TestCase("safety/read-write-pod-on-read-only-lv", readWriteOnReadOnly),
        TestCase("safety/interrupted-mkfs-redoes-only-a-broken-filesystem", interruptedMkfs),
    ]

    static func mountedOutside(_ fixture: Fixture) throws {
        try fixture.createVolume("host-root", size: "64M", active: true)
        let device = "/dev/mapper/flexlvm_it-host--root"
        let scratch = try fixture.formatAndMountScratch(device, filesystem: "ext4", name: "host-mount")
        defer { _ = try? fixture.run("umount", scratch) }
        let reply = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-root"), device, fixture.options("host-root", pv: "pv-root"),
        ])
        try expectFailure(reply, mentioning: ["outside kubelet's", "not given to a pod"])
        try expect(fixture.mountInfo(at: fixture.globalDir("pv-root")) == nil, "nothing mounted for the pod")
    }

    static func allowList(_ fixture: Fixture) throws {
        try fixture.createVolume("elsewhere")
        let reply = try fixture.driver(
            ["waitforattach", "", fixture.options("elsewhere")], environment: ["FLEXLVM_VOLUME_GROUPS": "flexlvm_other"]
        )
        try expectFailure(reply, mentioning: ["not one this node serves"])
        try expect(!(try fixture.isActive("elsewhere")), "not activated")
        try expectSuccess(
            try fixture.driver(
                ["waitforattach", "", fixture.options("elsewhere")],
                environment: ["FLEXLVM_VOLUME_GROUPS": "flexlvm_other, flexlvm_it"]))
    }

    /// An LV whose LVM permission is read-only is mounted read-only for every pod: a
    /// read-write pod is refused, a read-only one works.
    static func readWriteOnReadOnly(_ fixture: Fixture) throws {
        try fixture.createVolume("shared-ro", size: "64M")
        _ = try fixture.attachAndMountDevice("shared-ro", pv: "pv-sro")
        let sum = try fixture.writeRandomFile(fixture.globalDir("pv-sro") + "/f", bytes: 4096)
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-sro")]))
        try fixture.run("lvchange", "-q", "-p", "r", "\(fixture.volumeGroup)/shared-ro")
        let ro = ["kubernetes.io/readwrite": "ro"]
        _ = try fixture.attachAndMountDevice("shared-ro", pv: "pv-sro", extra: ro)
        try expect(fixture.writeFailsReadOnly(fixture.globalDir("pv-sro")), "a read-only LV is mounted read-only")
        try expectSuccess(try fixture.mountPod("shared-ro", pv: "pv-sro", pod: "reader", extra: ro))
        try expectEqual(try fixture.checksum(fixture.podDir("pv-sro", pod: "reader") + "/f"), sum, "data readable")
        try expectFailure(try fixture.mountPod("shared-ro", pv: "pv-sro", pod: "writer"), mentioning: ["read-only"])
        try expect(fixture.mountInfo(at: fixture.podDir("pv-sro", pod: "writer")) == nil, "the writer is not bound")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-sro", pod: "reader")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-sro")]))
        try expect(!(try fixture.isActive("shared-ro")), "released")
    }

    /// Leaves the marker a cut-off mkfs leaves, for the LV's current DM UUID.
    static func leaveMarker(_ fixture: Fixture, dmName: String) throws {
        let uuid = try fixture.run("dmsetup", "info", "-c", "--noheadings", "-o", "uuid", dmName)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = fixture.work.appendingPathComponent("state/formatting")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try (uuid + "\n").write(to: directory.appendingPathComponent(dmName), atomically: true, encoding: .utf8)
    }

    /// Breaks a 4 KiB-block ext4's group descriptors (block 1) so that mount and e2fsck -n fail.
    static func breakExt4(_ device: String) throws {
        let fd = open(device, O_WRONLY)
        try expect(fd >= 0, "open \(device)")
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 4096)
        try expect(pwrite(fd, zeros, zeros.count, 4096) == 4096 && fsync(fd) == 0, "zero the group descriptors")
    }

    static func interruptedMkfs(_ fixture: Fixture) throws {
        // A complete filesystem (an admin made it after the crash) is kept, with its data.
        try fixture.createVolume("kept", size: "64M", active: true)
        let kept = "/dev/mapper/flexlvm_it-kept"
        let scratch = try fixture.formatAndMountScratch(kept, filesystem: "ext4")
        let sum = try fixture.writeRandomFile(scratch + "/data", bytes: 65536)
        try fixture.run("umount", scratch)
        try leaveMarker(fixture, dmName: "flexlvm_it-kept")
        _ = try fixture.attachAndMountDevice("kept", pv: "pv-kept")
        try expectEqual(try fixture.checksum(fixture.globalDir("pv-kept") + "/data"), sum, "data kept")
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-kept")]))

        // Without a marker, a broken filesystem is never formatted over: mounting it fails.
        try fixture.createVolume("broken", size: "64M", active: true)
        let broken = "/dev/mapper/flexlvm_it-broken"
        try fixture.run("mkfs.ext4", "-q", "-b", "4096", broken)
        try breakExt4(broken)
        let refused = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-broken"), broken, fixture.options("broken", pv: "pv-broken"),
        ])
        try expectFailure(refused, mentioning: ["mount"])
        let check = try Fixture.execute(["e2fsck", "-n", "-f", broken])
        try expect(check.status != 0, "still broken, untouched")

        // With the marker of a cut-off mkfs of this LV, the broken filesystem is made again.
        try leaveMarker(fixture, dmName: "flexlvm_it-broken")
        try expectSuccess(
            try fixture.driver([
                "mountdevice", fixture.globalDir("pv-broken"), broken, fixture.options("broken", pv: "pv-broken"),
            ]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-broken")]))
        try fixture.run("lvchange", "-q", "-ay", "flexlvm_it/broken")
        try fixture.run("e2fsck", "-n", "-f", broken)
    }
}
