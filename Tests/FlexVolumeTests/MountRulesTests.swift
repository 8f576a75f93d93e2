import Filesystems
import FlexLVMCore
import Mounts
import Testing

@testable import FlexVolume

#if canImport(Glibc)
    import Glibc
#endif

@Suite("kubelet paths, mount options, mount table, filesystems")
struct MountRulesTests {
    let paths = KubeletPaths(root: "/var/lib/kubelet")

    @Test func derivesKubeletsLayout() throws {
        #expect(
            paths.globalMountPath("pv-1") == "/var/lib/kubelet/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv-1"
        )
        #expect(try paths.volumeName(ofGlobalMountPath: paths.globalMountPath("pv-1")) == "pv-1")
        let pod = try paths.podVolume("/var/lib/kubelet/pods/0c6e-41/volumes/flexlvm~lvm/pv-1")
        #expect(pod == KubeletPaths.PodVolume(podUID: "0c6e-41", volumeName: "pv-1"))
    }

    @Test(arguments: [
        "/etc", "/var/lib/kubelet/pods/u/volumes/other~driver/pv", "/var/lib/kubelet/pods/u/volumes/flexlvm~lvm",
        "/var/lib/kubelet/pods/u/volumes/flexlvm~lvm/pv/extra", "/var/lib/kubelet/pods//volumes/flexlvm~lvm/pv",
        "/var/lib/kubelet/pods/u/volumes/flexlvm~lvm/.hidden", "/var/lib/kubeletX/pods/u/volumes/flexlvm~lvm/pv",
        "/var/lib/kubelet/pods/u;x/volumes/flexlvm~lvm/pv",
    ])
    func refusesPathsOutsideThePodsTree(_ path: String) {
        #expect(throws: FlexLVMError.self) { try paths.podVolume(path) }
    }

    @Test(arguments: ["/", "/var/lib/kubelet/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/", "/mnt/pv"])
    func refusesOtherGlobalPaths(_ path: String) {
        #expect(throws: FlexLVMError.self) { try paths.volumeName(ofGlobalMountPath: path) }
    }

    /// Any kubelet `--root-dir`: the root is what precedes the fixed layout.
    @Test func takesKubeletsRootFromThePath() throws {
        let root = "/tmp/flexlvm-unit-kubelet-\(getpid())/var/lib/k0s/kubelet"
        try Files.makeDirectories(root)
        let global = try KubeletPaths.locate(
            globalMountPath: "\(root)/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv-1", allowedRoot: nil)
        #expect(global.0.root == root)
        #expect(global.volumeName == "pv-1")
        let pod = try KubeletPaths.locate(podVolumeDir: "\(root)/pods/u-1/volumes/flexlvm~lvm/pv-2", allowedRoot: nil)
        #expect(pod.0.root == root)
        #expect(pod.1 == KubeletPaths.PodVolume(podUID: "u-1", volumeName: "pv-2"))
        // The kubeletRoot setting restricts the roots accepted.
        #expect(throws: FlexLVMError.self) {
            try KubeletPaths.locate(
                podVolumeDir: "\(root)/pods/u/volumes/flexlvm~lvm/pv", allowedRoot: "/var/lib/kubelet")
        }
        #expect(
            try KubeletPaths.locate(podVolumeDir: "\(root)/pods/u/volumes/flexlvm~lvm/pv", allowedRoot: root + "/").0
                .root
                == root)
        // A root that does not exist is not kubelet's.
        #expect(throws: FlexLVMError.self) {
            try KubeletPaths.locate(podVolumeDir: "/nonexistent-root/pods/u/volumes/flexlvm~lvm/pv", allowedRoot: nil)
        }
    }

    @Test(arguments: [
        "/pods/u/volumes/flexlvm~lvm/pv", "relative/pods/u/volumes/flexlvm~lvm/pv",
        "/tmp/./pods/u/volumes/flexlvm~lvm/pv",
        "/tmp//pods/u/volumes/flexlvm~lvm/pv", "/tmp/../pods/u/volumes/flexlvm~lvm/pv",
        "/tmp/podsX/u/volumes/flexlvm~lvm/pv",
        "/tmp/pods/u/volumes/other~x/pv", "/tmp/pods/u/volumes/flexlvm~lvm/pv/x", "/tmp/pods/u/volumes/flexlvm~lvm/",
        "/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv",
        "/tmp/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv/x",
        "/tmp/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/",
        "/tmp/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mountsX/pv",
    ])
    func refusesPathsThatAreNotKubeletsLayout(_ path: String) {
        #expect(throws: FlexLVMError.self) {
            if path.contains("/plugins/") {
                _ = try KubeletPaths.locate(globalMountPath: path, allowedRoot: nil)
            } else {
                _ = try KubeletPaths.locate(podVolumeDir: path, allowedRoot: nil)
            }
        }
    }

    @Test func parsesAllowedMountOptions() throws {
        let options = try MountOptions.parse("noatime,nodev,discard,commit=30", fsType: "ext4")
        #expect(options.flags == UInt(MS_NOATIME) | UInt(MS_NODEV))
        #expect(options.data == "discard,commit=30")
        #expect(try MountOptions.parse("ro,rw", fsType: "xfs").flags == 0)
        #expect(try MountOptions.parse("compress=zstd:3", fsType: "btrfs").data == "compress=zstd:3")
    }

    @Test(arguments: [
        ("bind", "ext4"), ("remount", "ext4"), ("subvol=/x", "btrfs"), ("context=system_u", "xfs"),
        ("commit=$(id)", "ext4"), ("compress=zstd", "ext4"), ("data=a,b", "ext4x"), ("errors=", "ext4"),
    ])
    func refusesOtherMountOptions(_ text: String, _ fsType: String) {
        #expect(throws: FlexLVMError.self) { try MountOptions.parse(text, fsType: fsType) }
    }

    @Test func parsesMountinfoIncludingEscapesAndBtrfs() throws {
        let table = try MountTable(
            parsing: """
                22 1 254:3 / /var/lib/kubelet/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv\\0401 rw,relatime shared:1 - ext4 /dev/mapper/vg-lv rw
                23 1 0:45 / /mnt/b rw - btrfs /dev/mapper/vg-b rw,space_cache=v2
                24 22 254:3 / /var/lib/kubelet/pods/u/volumes/flexlvm~lvm/pv ro,relatime - ext4 /dev/mapper/vg-lv rw
                """)
        #expect(table.entries.count == 3)
        let global = table.entries[0]
        #expect(global.mountPoint == "/var/lib/kubelet/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv 1")
        #expect(global.device == DeviceNumber(major: 254, minor: 3))
        #expect(global.propagation == ["shared:1"])
        #expect(table.entries[1].fsType == "btrfs")
        #expect(table.entries[2].isReadOnly)
        #expect(table.mounts(of: DeviceNumber(major: 254, minor: 3)).count == 2)
        #expect(throws: FlexLVMError.self) { try MountTable(parsing: "garbage line") }
    }

    @Test func splitsDeviceNumbersLikeGlibc() {
        #expect(DeviceNumber(UInt64(0xFE03)) == DeviceNumber(major: 254, minor: 3))
        #expect(DeviceNumber(UInt64(0x0010_0000_0000_0105)) == DeviceNumber(major: 0x10_0001, minor: 5))
    }

    @Test func readsDeviceMapperNamesBack() throws {
        #expect(
            LogicalVolumeRef(deviceMapperName: "my--vg-lv----1")
                == (try LogicalVolumeRef(volumeGroup: "my-vg", name: "lv--1")))
        #expect(LogicalVolumeRef(deviceMapperName: "vg-lv-real") == nil)
        #expect(LogicalVolumeRef(deviceMapperName: "novg") == nil)
    }

    @Test func choosesFilesystemsAndTheirCommands() throws {
        #expect(try Filesystem(fsTypeOption: "") == .ext4)
        #expect(try Filesystem(fsTypeOption: "xfs") == .xfs)
        #expect(throws: FlexLVMError.self) { try Filesystem(fsTypeOption: "vfat") }
        #expect(throws: FlexLVMError.self) { try Filesystem(fsTypeOption: "ext4; reboot") }
        #expect(
            Filesystem.xfs.mkfsArguments(device: "/dev/mapper/vg-lv", extra: ["-L", "x"])
                == ["mkfs.xfs", "-q", "-K", "-L", "x", "/dev/mapper/vg-lv"])
        #expect(
            Filesystem.ext4.mkfsArguments(device: "/d", extra: []).contains(
                "nodiscard,lazy_itable_init=1,lazy_journal_init=1"))
        #expect(Filesystem.xfs.growArguments(device: "/d", mountPath: "/m") == ["xfs_growfs", "/m"])
        #expect(Filesystem.ext4.growArguments(device: "/d", mountPath: "/m") == ["resize2fs", "/d"])
    }

    @Test(arguments: [
        (Filesystem.ext4, "-F"), (.xfs, "-f"), (.btrfs, "--force"), (.ext4, "-L $(id)"), (.ext4, "-L `id`"),
        (.ext4, "-O x;y"), (.ext4, "-E a|b"), (.btrfs, "/dev/sdb"), (.xfs, "-l logdev=/dev/sdb"),
        (.xfs, "-r rtdev=/dev/x"), (.ext4, "-d /etc"), (.btrfs, "--rootdir /etc"), (.ext4, "-qF"), (.xfs, "-Kf"),
        (.btrfs, "--forc"), (.ext4, "-L"), (.xfs, "-p proto"), (.ext4, "-L -F"),
    ])
    func refusesUnsafeMkfsOptions(_ filesystem: Filesystem, _ text: String) {
        #expect(throws: FlexLVMError.self) { try filesystem.mkfsExtraArguments(text) }
    }

    @Test func splitsMkfsOptions() throws {
        #expect(try Filesystem.ext4.mkfsExtraArguments("  -m 0  -L data ") == ["-m", "0", "-L", "data"])
        #expect(try Filesystem.xfs.mkfsExtraArguments("-d su=64k,sw=4 -L x") == ["-d", "su=64k,sw=4", "-L", "x"])
        #expect(try Filesystem.ext4.mkfsExtraArguments(nil) == [])
    }

    @Test func subprocessRunsArgvWithoutAShellAndBoundsTime() throws {
        let echo = try Subprocess.run(["echo", "$(id)", ";", "x"], timeout: 10)
        #expect(echo.standardOutput == "$(id) ; x\n")
        let slow = try Subprocess.run(["sleep", "10"], timeout: 0.3, killGrace: 0.5)
        #expect(slow.timedOut)
        #expect(!slow.succeeded)
        let failing = try Subprocess.run(["sh", "-c", "echo oops >&2; exit 3"], timeout: 10)
        #expect(failing.status == 3)
        #expect(failing.standardError == "oops\n")
    }
}
