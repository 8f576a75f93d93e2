import Filesystems
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

/// expandfs and expandvolume: grow the LV in-process, then the mounted filesystem online.
extension NodeDriver {
    /// expandfs: grow the LV to at least `newSize`, then its mounted filesystem.
    ///
    /// kubelet passes the pod's volume dir (`volumeMounter.GetPath()`), while the pod is being
    /// mounted (the dir is not a mount yet) as well as in use; older kubelets passed the global
    /// dir. The filesystem is grown through that dir when it is a mount of the LV, else through
    /// the LV's mount in kubelet's global dir or the driver's staging dir.
    func expandFilesystem(
        _ options: VolumeOptions, devicePath: String, mountPath: String, newSize: Int64, oldSize: Int64
    ) throws -> Reply {
        let ref = try volume(options)
        let kubelet =
            Array(mountPath.utf8).firstOffset(of: Array("/plugins/kubernetes.io/flexvolume/".utf8)) != nil
            ? try locate(globalMountPath: mountPath).0 : try locate(podDir: mountPath).0
        let lock = try lockVolume(ref)
        defer { lock.release() }
        try growLogicalVolume(ref, to: newSize, from: oldSize)
        let device = try ensureActive(ref)
        let number = try deviceNumber(of: ref, at: device)
        let mounts = try MountTable.current().mounts(of: number)
        let ours = [kubelet.globalMountsDirectory, configuration.stagingDir].map { MountTable.canonical($0) + "/" }
        guard
            let entry = mounts.first(where: { $0.mountPoint == MountTable.canonical(mountPath) })
                ?? mounts.first(where: { entry in ours.contains { entry.mountPoint.hasPrefix($0) } })
        else {
            throw FlexLVMError(
                .notFound,
                "LV \(ref) is not mounted at \(mountPath) nor in kubelet's global dir or the staging dir; its "
                    + "filesystem cannot be grown online")
        }
        guard let filesystem = Filesystem(rawValue: entry.fsType) else {
            throw FlexLVMError(.unsupported, "\(entry.mountPoint) holds \(entry.fsType), which this driver cannot grow")
        }
        let arguments = filesystem.growArguments(device: device, mountPath: entry.mountPoint)
        log?.record("info", "grow-filesystem", [("command", arguments.joined(separator: " "))])
        let result = try Subprocess.run(arguments, timeout: commandTimeout)
        guard result.succeeded else {
            throw FlexLVMError(
                .system,
                "\(arguments.joined(separator: " ")) failed with exit status \(result.status): \(commandMessage(result))"
            )
        }
        return .success()
    }

    /// expandvolume: grow the LV only.
    func expandVolume(_ options: VolumeOptions, newSize: Int64, oldSize: Int64) throws -> Reply {
        let ref = try volume(options)
        let lock = try lockVolume(ref)
        defer { lock.release() }
        try growLogicalVolume(ref, to: newSize, from: oldSize)
        return .success()
    }

    /// Extends the LV to at least `newSize` bytes; an LV that is already that large is left
    /// alone, and shrinking is refused.
    func growLogicalVolume(_ ref: LogicalVolumeRef, to newSize: Int64, from oldSize: Int64) throws {
        guard newSize >= oldSize else {
            throw FlexLVMError(
                .invalidArgument,
                "new size \(newSize) is smaller than the old size \(oldSize): volumes are never shrunk")
        }
        let lvm = try LVM()
        let info = try lvm.logicalVolume(ref)
        guard info.sizeBytes < UInt64(newSize) else { return }
        let group = try lvm.volumeGroupSpace(ref.volumeGroup)
        let extent = max(group.extentSize, 1)
        let target = (UInt64(newSize) + extent - 1) / extent * extent
        let needed = target - info.sizeBytes
        guard group.freeBytes >= needed else {
            throw FlexLVMError(
                .busy,
                "volume group \(ref.volumeGroup) has \(group.freeBytes) bytes free; growing LV \(ref) from \(info.sizeBytes) "
                    + "to \(target) bytes needs \(needed)")
        }
        try lvm.run(["lvextend", "-L", "\(target)b", ref.lvmPath], for: "LV \(ref)")
    }
}
