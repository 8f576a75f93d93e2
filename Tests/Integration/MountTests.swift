import FlexLVMCore
import Foundation

/// The mount lifecycle on real LVM and real filesystems.
enum MountTests {
    static let cases: [TestCase] =
        ["ext4", "xfs", "btrfs"].map { fs in
            TestCase("mount/full-kubelet-order-\(fs)") { fixture in
                try fullKubeletOrder(fixture, fs: fs)
            }
        } + [
            TestCase("mount/never-reformat-other-filesystem", neverReformat),
            TestCase("mount/never-reformat-other-signatures", otherSignatures),
            TestCase("mount/read-only", readOnly),
            TestCase("mount/secrets-refused-in-mountdevice", secretsRefused),
            TestCase("mount/unmounted-global-dir-is-never-bound", unmountedGlobalDir),
            TestCase("mount/repeats-converge", repeatsConverge),
            TestCase("mount/bad-mount-and-mkfs-options", badOptions),
        ]
        + ["ext4", "xfs"].map { fs in
            TestCase("expand/online-\(fs)") { fixture in try expandOnline(fixture, fs: fs) }
        }

    static func fullKubeletOrder(_ fixture: Fixture, fs: String) throws {
        let lv = "data-\(fs)"
        let pv = "pv-\(fs)"
        try fixture.createVolume(lv, size: fs == "xfs" ? "320M" : fs == "btrfs" ? "128M" : "64M")
        let extra = ["kubernetes.io/fsType": fs]
        let device = try fixture.attachAndMountDevice(lv, pv: pv, extra: extra)
        try expectEqual(fixture.mountInfo(at: fixture.globalDir(pv))?.fsType, fs, "global dir filesystem")
        try expectEqual(fixture.blkidType(device), fs, "blkid type")
        try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "pod-a", extra: extra))
        try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "pod-b", extra: extra))
        let a = fixture.podDir(pv, pod: "pod-a")
        let b = fixture.podDir(pv, pod: "pod-b")
        try expect(fixture.mountInfo(at: a)?.options.hasPrefix("rw") == true, "pod-a bind is rw")
        let sum = try fixture.writeRandomFile(a + "/data.bin", bytes: 3 << 20)
        try expectEqual(try fixture.checksum(b + "/data.bin"), sum, "pod-b sees pod-a's data")

        try expectSuccess(try fixture.driver(["unmount", a]))
        try expect(!FileManager.default.fileExists(atPath: a), "pod-a dir removed")
        try expectEqual(try fixture.checksum(b + "/data.bin"), sum, "pod-b still works after pod-a unmounts")
        try expectSuccess(try fixture.driver(["unmount", b]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
        try expect(fixture.mountInfo(at: fixture.globalDir(pv)) == nil, "global dir unmounted")
        try expect(!FileManager.default.fileExists(atPath: fixture.globalDir(pv)), "global dir removed")
        try expect(!(try fixture.isActive(lv)), "unmountdevice releases the LV")
        try expectSuccess(try fixture.driver(["detach", pv, fixture.nodeName]))

        // Again: the data is there, byte for byte, and nothing was reformatted.
        _ = try fixture.attachAndMountDevice(lv, pv: pv, extra: extra)
        try expectSuccess(try fixture.mountPod(lv, pv: pv, pod: "pod-c", extra: extra))
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "pod-c") + "/data.bin"), sum, "data after remount")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir(pv, pod: "pod-c")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
        try expect(!(try fixture.isActive(lv)), "released again")
    }

    static func neverReformat(_ fixture: Fixture) throws {
        try fixture.createVolume("holds-xfs", size: "320M", active: true)
        let device = "/dev/mapper/flexlvm_it-holds--xfs"
        let scratch = try fixture.formatAndMountScratch(device, filesystem: "xfs")
        let sum = try fixture.writeRandomFile(scratch + "/keep.bin", bytes: 1 << 20)
        try fixture.run("umount", scratch)

        let json = fixture.options("holds-xfs", pv: "pv-x", extra: ["kubernetes.io/fsType": "ext4"])
        let reply = try fixture.driver(["mountdevice", fixture.globalDir("pv-x"), device, json])
        try expectFailure(reply, mentioning: ["holds xfs", "never formatted over"])
        try expect(fixture.mountInfo(at: fixture.globalDir("pv-x")) == nil, "nothing mounted")
        try expectEqual(fixture.blkidType(device), "xfs", "still xfs")
        try fixture.run("mount", "-o", "ro", device, scratch)
        defer { _ = try? fixture.run("umount", scratch) }
        try expectEqual(try fixture.checksum(scratch + "/keep.bin"), sum, "data intact")
    }

    static func otherSignatures(_ fixture: Fixture) throws {
        // swap
        try fixture.createVolume("swapvol", active: true)
        try fixture.run("mkswap", "/dev/mapper/flexlvm_it-swapvol")
        let swap = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-swap"), "/dev/mapper/flexlvm_it-swapvol",
            fixture.options("swapvol", pv: "pv-swap"),
        ])
        try expectFailure(swap, mentioning: ["swap"])
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-swapvol"), "swap", "swap untouched")
        // a DOS partition table
        try fixture.createVolume("parted", active: true)
        var mbr = [UInt8](repeating: 0, count: 512)
        mbr[446 + 4] = 0x83  // one Linux partition from sector 2048
        mbr[446 + 8] = 0x00
        mbr[446 + 9] = 0x08
        mbr[446 + 12] = 0x00
        mbr[446 + 13] = 0x10
        mbr[510] = 0x55
        mbr[511] = 0xAA
        let fd = open("/dev/mapper/flexlvm_it-parted", O_WRONLY)
        try expect(fd >= 0 && write(fd, mbr, 512) == 512 && fsync(fd) == 0, "write an MBR")
        close(fd)
        let parted = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-part"), "/dev/mapper/flexlvm_it-parted",
            fixture.options("parted", pv: "pv-part"),
        ])
        try expectFailure(parted, mentioning: ["partition table"])
        // an LVM PV
        try fixture.createVolume("nested", active: true)
        try fixture.run("pvcreate", "-q", "--config", "devices/scan_lvs=1", "/dev/mapper/flexlvm_it-nested")
        let nested = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-nested"), "/dev/mapper/flexlvm_it-nested",
            fixture.options("nested", pv: "pv-nested"),
        ])
        try expectFailure(nested, mentioning: ["LVM2_member"])
    }

    static func readOnly(_ fixture: Fixture) throws {
        // A blank read-only volume is never formatted.
        try fixture.createVolume("ro-blank")
        let blankJSON = fixture.options("ro-blank", pv: "pv-rob", extra: ["kubernetes.io/readwrite": "ro"])
        try expectSuccess(try fixture.driver(["waitforattach", "", blankJSON]))
        try expectFailure(
            try fixture.driver(["mountdevice", fixture.globalDir("pv-rob"), "", blankJSON]), mentioning: ["read-only"])
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-ro--blank"), "", "still blank")

        // A formatted volume asked read-only is read-only in the pod; the global dir, which
        // every pod of the node shares, stays read-write (the volume itself is writable).
        try fixture.createVolume("ro-data", size: "64M")
        _ = try fixture.attachAndMountDevice("ro-data", pv: "pv-ro")
        let sum = try fixture.writeRandomFile(fixture.globalDir("pv-ro") + "/f", bytes: 4096)
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-ro")]))
        let extra = ["kubernetes.io/readwrite": "ro"]
        _ = try fixture.attachAndMountDevice("ro-data", pv: "pv-ro", extra: extra)
        try expect(!fixture.writeFailsReadOnly(fixture.globalDir("pv-ro")), "the global dir is read-write")
        try? FileManager.default.removeItem(atPath: fixture.globalDir("pv-ro") + "/probe-write")
        try expectSuccess(try fixture.mountPod("ro-data", pv: "pv-ro", pod: "p1", extra: extra))
        let pod = fixture.podDir("pv-ro", pod: "p1")
        try expect(fixture.writeFailsReadOnly(pod), "pod dir write fails with EROFS")
        try expectEqual(try fixture.checksum(pod + "/f"), sum, "read-only data readable")
        try expectSuccess(try fixture.driver(["unmount", pod]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-ro")]))
    }

    static func secretsRefused(_ fixture: Fixture) throws {
        try fixture.createVolume("secret")
        let json = fixture.options("secret", pv: "pv-s", extra: ["kubernetes.io/secret/password": "aHVudGVyMg=="])
        try expectSuccess(try fixture.driver(["waitforattach", "", fixture.options("secret", pv: "pv-s")]))
        let reply = try fixture.driver([
            "mountdevice", fixture.globalDir("pv-s"), "/dev/mapper/flexlvm_it-secret", json,
        ])
        try expectFailure(reply, mentioning: ["no secrets", "password"])
        try expect(!reply.raw.contains("aHVudGVyMg=="), "the reply never shows the secret")
        try expect(fixture.mountInfo(at: fixture.globalDir("pv-s")) == nil, "nothing mounted")
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-secret"), "", "nothing formatted")
        let log = (try? String(contentsOfFile: fixture.logPath, encoding: .utf8)) ?? ""
        try expect(!log.contains("aHVudGVyMg=="), "the log never shows the secret")
    }

    /// A global dir that is not a mount holds the node's disk: it is never bound into a pod.
    /// With no global mount, `mount` stages the LV itself (attach:false's path), so the pod
    /// gets the LV, not the dir.
    static func unmountedGlobalDir(_ fixture: Fixture) throws {
        try fixture.createVolume("unbound", size: "64M")
        let json = fixture.options("unbound", pv: "pv-u")
        try expectSuccess(try fixture.driver(["waitforattach", "", json]))
        try FileManager.default.createDirectory(atPath: fixture.globalDir("pv-u"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(
            atPath: fixture.globalDir("pv-u") + "/on-the-node-disk", contents: Data("node".utf8))
        try expectSuccess(try fixture.mountPod("unbound", pv: "pv-u", pod: "p1"))
        let pod = fixture.podDir("pv-u", pod: "p1")
        let device = try fixture.run("stat", "-L", "-c", "%t:%T", "/dev/mapper/flexlvm_it-unbound")
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").map { String(Int($0, radix: 16)!) }
            .joined(separator: ":")
        try expectEqual(fixture.mountInfo(at: pod)?.device, device, "the pod dir is a mount of the LV")
        try expect(
            !FileManager.default.fileExists(atPath: pod + "/on-the-node-disk"), "the node's disk is not in the pod")
        try expect(fixture.mountInfo(at: fixture.globalDir("pv-u")) == nil, "the global dir is left as it is")
        // A global dir holding another LV's filesystem is refused.
        try fixture.createVolume("other", size: "64M")
        try FileManager.default.removeItem(atPath: fixture.globalDir("pv-u") + "/on-the-node-disk")
        _ = try fixture.attachAndMountDevice("other", pv: "pv-u")
        try expectFailure(try fixture.mountPod("unbound", pv: "pv-u", pod: "p2"), mentioning: ["is not a mount of LV"])
        try expect(fixture.mountInfo(at: fixture.podDir("pv-u", pod: "p2")) == nil, "pod dir not bound")
        try expectSuccess(try fixture.driver(["unmount", pod]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-u")]))
        try expect(!(try fixture.isActive("unbound")), "released")
    }

    static func repeatsConverge(_ fixture: Fixture) throws {
        try fixture.createVolume("twice", size: "64M")
        _ = try fixture.attachAndMountDevice("twice", pv: "pv-t")
        let json = fixture.options("twice", pv: "pv-t")
        try expectSuccess(
            try fixture.driver(["mountdevice", fixture.globalDir("pv-t"), "/dev/mapper/flexlvm_it-twice", json]))
        try expectSuccess(try fixture.mountPod("twice", pv: "pv-t", pod: "p"))
        try expectSuccess(try fixture.mountPod("twice", pv: "pv-t", pod: "p"))
        let stacked = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains(" \(fixture.podDir("pv-t", pod: "p")) ") }.count
        try expectEqual(stacked, 1, "one bind after mount twice")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-t", pod: "p")]))
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-t", pod: "p")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-t")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-t")]))
        try expect(!(try fixture.isActive("twice")), "released")
    }

    static func badOptions(_ fixture: Fixture) throws {
        try fixture.createVolume("opts", size: "64M")
        let device = "/dev/mapper/flexlvm_it-opts"
        for (extra, words) in [
            (["mountOptions": "bind"], ["not allowed"]), (["mountOptions": "noatime,context=x"], ["not allowed"]),
            (["mkfsOptions": "-F"], ["never formats over"]), (["mkfsOptions": "-L $(id)"], ["not allowed"]),
            (["kubernetes.io/fsType": "vfat"], ["not supported", "ext4, xfs, btrfs"]),
        ] {
            let json = fixture.options("opts", pv: "pv-o", extra: extra)
            try expectFailure(
                try fixture.driver(["mountdevice", fixture.globalDir("pv-o"), device, json]), mentioning: words)
        }
        try expectEqual(fixture.blkidType(device), "", "nothing formatted by refused calls")
        let good = fixture.options(
            "opts", pv: "pv-o", extra: ["mountOptions": "noatime,nodev", "mkfsOptions": "-L flexdata"])
        try expectSuccess(try fixture.driver(["mountdevice", fixture.globalDir("pv-o"), device, good]))
        try expect(
            fixture.mountInfo(at: fixture.globalDir("pv-o"))?.options.contains("noatime") == true, "noatime applied")
        try expect(
            try fixture.run("blkid", "-o", "value", "-s", "LABEL", device).contains("flexdata"), "mkfs label applied")
        try expectFailure(try fixture.driver(["unmountdevice", "/etc"]), mentioning: ["not a global mount dir"])
        try expectFailure(try fixture.driver(["unmount", "/var/lib/kubelet/../../etc"]), mentioning: ["absolute path"])
        try expectFailure(try fixture.driver(["unmount", "/tmp/x"]), mentioning: ["kubelet's pods dir"])
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-o")]))
    }

    static func expandOnline(_ fixture: Fixture, fs: String) throws {
        let lv = "grow-\(fs)"
        let pv = "pv-g\(fs)"
        let size: Int64 = fs == "xfs" ? 320 << 20 : 64 << 20
        try fixture.createVolume(lv, size: "\(size)b")
        let extra = ["kubernetes.io/fsType": fs]
        let device = try fixture.attachAndMountDevice(lv, pv: pv, extra: extra)
        let before = try fixture.filesystemSize(fixture.globalDir(pv))
        let json = fixture.options(lv, pv: pv, extra: extra)
        let newSize = String(size * 2)
        try expectSuccess(try fixture.driver(["expandfs", json, device, fixture.globalDir(pv), newSize, String(size)]))
        try expectSuccess(try fixture.driver(["expandfs", json, device, fixture.globalDir(pv), newSize, String(size)]))
        let after = try fixture.filesystemSize(fixture.globalDir(pv))
        try expect(after > before + Int(size) * 3 / 4, "df shows the grown filesystem: \(before) -> \(after)")
        let lvSize = try fixture.run(
            "lvs", "--noheadings", "--nosuffix", "--units", "b", "-o", "lv_size", "flexlvm_it/\(lv)")
        try expectEqual(Int64(lvSize.trimmingCharacters(in: .whitespacesAndNewlines)), size * 2, "LV size")
        try expectFailure(
            try fixture.driver(["expandfs", json, device, fixture.globalDir(pv), String(size / 2), newSize]),
            mentioning: ["never shrunk"])
        try expectFailure(
            try fixture.driver(["expandvolume", json, "", String(4 << 30), newSize]),
            mentioning: ["bytes free", "needs"])
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir(pv)]))
    }
}

extension Fixture {
    /// The filesystem's size in bytes as df reports it.
    func filesystemSize(_ path: String) throws -> Int {
        let output = try run("df", "-B1", "--output=size", path)
        guard let size = Int(output.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) ?? "") else {
            throw TestFailure("cannot read df output: \(output)")
        }
        return size
    }
}
