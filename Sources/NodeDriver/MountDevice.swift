import DeviceMapperQueries
import Filesystems
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// mountdevice and unmountdevice: the LV's filesystem on kubelet's global dir.
extension NodeDriver {
    /// mountdevice: check the device, create a filesystem only on a blank device, mount it on
    /// the global dir.
    func mountDevice(mountPath: String, devicePath: String, _ options: VolumeOptions) throws -> Reply {
        guard options.secretKeys.isEmpty else {
            throw FlexLVMError(
                .invalidArgument,
                "mountdevice takes no secrets (the FlexVolume contract forbids them there) and this driver uses none; "
                    + "remove the secretRef from the PV (secret keys: \(options.secretKeys.map { quoted($0) }.joined(separator: ", ")))"
            )
        }
        let (kubelet, _) = try locate(globalMountPath: mountPath)
        let ref = try volume(options)
        let filesystem = try Filesystem(fsTypeOption: options.fsType)
        let mountOptions = try MountOptions.parse(options.mountOptions ?? "", fsType: filesystem.rawValue)
        let mkfsExtra = try filesystem.mkfsExtraArguments(options.mkfsOptions)

        try checkDevicePath(devicePath, of: ref)

        let lock = try lockVolume(ref)
        defer { lock.release() }
        let device = try ensureActive(ref)
        let number = try deviceNumber(of: ref, at: device)
        try mountFilesystem(
            of: ref, device: device, number: number, at: mountPath, kubelet: kubelet, filesystem: filesystem,
            options: mountOptions, readOnly: options.readOnly, mkfsExtra: mkfsExtra, lock: lock)
        return .success(device: device)
    }

    /// Mounts the LV's filesystem at `path` (creating it only on a blank device); a path that
    /// already has this LV mounted is left as it is, one with anything else is refused.
    ///
    /// The mount is shared by every pod of the node, so it is read-write unless the volume
    /// itself is read-only (the LV's LVM permission, or `ro` in `options`): a read-only pod
    /// first and a read-write pod next must both work, and kubelet never mounts it again while
    /// a pod uses it. `readOnly` (the first pod's wish) only forbids formatting a blank LV.
    func mountFilesystem(
        of ref: LogicalVolumeRef, device: String, number: DeviceNumber, at path: String, kubelet: KubeletPaths,
        filesystem: Filesystem, options: MountOptions, readOnly: Bool, mkfsExtra: [String], lock: FileLock
    ) throws {
        let table = try MountTable.current()
        if let existing = table.mount(at: path) {
            guard existing.backingDevice == number else {
                throw FlexLVMError(
                    .busy,
                    "\(path) already has another filesystem mounted (\(existing.source), device \(existing.device)); "
                        + "LV \(ref) is \(number)")
            }
            return
        }
        let ours = [kubelet.globalMountsDirectory, configuration.stagingDir, kubelet.podsDirectory].map {
            MountTable.canonical($0) + "/"
        }
        if let foreign = table.mounts(of: number).first(where: { entry in
            !ours.contains { entry.mountPoint.hasPrefix($0) }
        }) {
            throw FlexLVMError(
                .busy,
                "LV \(ref) is mounted at \(foreign.mountPoint), outside kubelet's and this driver's dirs (by the node "
                    + "or an admin); it is not given to a pod")
        }
        let lvReadOnly = try DeviceMapper.info(number)?.readOnly ?? false
        try prepareFilesystem(
            filesystem, on: device, of: ref, readOnly: readOnly || lvReadOnly, mkfsExtra: mkfsExtra, lock: lock)
        try Files.makeDirectories(path, mode: 0o750)
        checkpoint("mount-filesystem-before")
        var options = options
        if lvReadOnly { options.flags |= UInt(MS_RDONLY) }
        try MountCalls.mount(device: device, at: path, type: filesystem.rawValue, options: options)
    }

    /// Makes sure `device` holds `filesystem`: blank devices are formatted (never for a
    /// read-only volume); a device holding anything else is refused untouched.
    func prepareFilesystem(
        _ filesystem: Filesystem, on device: String, of ref: LogicalVolumeRef, readOnly: Bool, mkfsExtra: [String],
        lock: FileLock
    ) throws {
        // A marker is written before mkfs and removed after it: one left behind means a mkfs
        // of this very LV (same DM UUID) was cut off, by a crash or by its own failure.
        let marker = Paths.join(Paths.join(configuration.stateDir, "formatting"), ref.deviceMapperName)
        let uuid = try DeviceMapper.info(name: ref.deviceMapperName)?.uuid ?? ""
        let markerText =
            Files.exists(marker) ? String(decoding: try Files.read(marker, limit: 4096), as: UTF8.self) : nil
        let interrupted = markerText?.trimmingSpaces == uuid && !uuid.isEmpty
        if markerText != nil && !interrupted { try removeMarker(marker) }

        var force = false
        if let signature = try BlockProbe.probe(device) {
            guard signature.type == filesystem.rawValue else {
                throw FlexLVMError(
                    .unsupported,
                    "LV \(ref) holds \(signature), not \(filesystem.rawValue); it is never formatted over, and nothing "
                        + "was changed (set the PV's fsType to \(signature.type) if this is the data to mount)")
            }
            guard interrupted else { return }
            // After an interrupted mkfs, a filesystem that checks clean is complete (whoever
            // made it) and is kept; only a broken one, the cut-off mkfs's, is made again.
            if try filesystemIsClean(filesystem, device: device) {
                try removeMarker(marker)
                return
            }
            force = true
        }
        guard !readOnly else {
            throw FlexLVMError(
                .invalidArgument,
                "LV \(ref) holds no filesystem and the volume is read-only: a read-only volume is never formatted; "
                    + "mount it read-write once, or create the filesystem by hand")
        }
        try Files.makeDirectories(Paths.directory(of: marker), mode: 0o755)
        try Files.writeAtomically(marker, Array("\(uuid)\n".utf8))
        let arguments = filesystem.mkfsArguments(device: device, extra: mkfsExtra, force: force)
        log?.record("info", "mkfs", [("command", arguments.joined(separator: " ")), ("redo", String(force))])
        checkpoint("mkfs-before")
        // mkfs inherits the volume lock: if this process dies, a retry still waits for it.
        let result = try Subprocess.run(
            arguments, timeout: commandTimeout, inherit: [lock.descriptor],
            onSpawn: { pid in checkpointDuringChild("mkfs-running", child: pid) })
        checkpoint("mkfs-after")
        guard result.succeeded else {
            // mkfs refused or failed by itself: if it left nothing, no redo is owed.
            if try BlockProbe.probe(device) == nil { try removeMarker(marker) }
            throw FlexLVMError(
                .system,
                "\(arguments[0]) on \(device) \(result.timedOut ? "timed out after \(Int(commandTimeout)) s" : "failed with exit status \(result.status)")"
                    + ": \(commandMessage(result))")
        }
        guard try BlockProbe.probe(device)?.type == filesystem.rawValue else {
            throw FlexLVMError(
                .system, "\(arguments[0]) on \(device) succeeded, but no \(filesystem.rawValue) is found on it")
        }
        try removeMarker(marker)
    }

    /// A read-only consistency check (e2fsck -n, xfs_repair -n, btrfs check --readonly).
    func filesystemIsClean(_ filesystem: Filesystem, device: String) throws -> Bool {
        let arguments = filesystem.checkArguments(device: device)
        let result = try Subprocess.run(arguments, timeout: commandTimeout)
        log?.record(
            "info", "fsck-after-interrupted-mkfs",
            [("command", arguments.joined(separator: " ")), ("status", String(result.status))])
        return result.succeeded
    }

    func removeMarker(_ marker: String) throws {
        try Files.removeIfPresent(marker)
    }

    /// unmountdevice: unmount the global dir, remove it, and release the LV when nothing
    /// holds its device any more.
    func unmountDevice(mountPath: String) throws -> Reply {
        let (_, volumeName) = try locate(globalMountPath: mountPath, releasing: true)
        guard let entry = try MountTable.current().mount(at: mountPath) else {
            try removeDirectory(mountPath)
            // A retry after a crash between unmount and deactivation: release the LV
            // recorded for this volume if nothing holds it.
            if let ref = try volumeMap.lookup(volumeName) {
                let lock = try lockVolume(ref)
                defer { lock.release() }
                try releaseIfUnused(ref)
            }
            return .success()
        }
        let ref = try DeviceMapper.info(entry.backingDevice).flatMap { device -> LogicalVolumeRef? in
            device.uuid.hasPrefix("LVM-") && device.uuid.utf8.count == 68
                ? LogicalVolumeRef(deviceMapperName: device.name) : nil
        }
        let lock = try ref.map { try lockVolume($0) }
        defer { lock?.release() }
        try unmountAll(mountPath)
        try removeDirectory(mountPath)
        if let ref { try releaseIfUnused(ref) }
        lock?.release()
        try releaseIdleRecordedVolumes()
        return .success()
    }

    /// Deactivates the LV when its device is no longer open (no mount, no process); says
    /// whether it did.
    @discardableResult
    func releaseIfUnused(_ ref: LogicalVolumeRef) throws -> Bool {
        guard let device = try DeviceMapper.info(name: ref.deviceMapperName) else { return false }
        guard device.openCount == 0 else {
            log?.record("info", "release-skipped", [("lv", ref.lvmPath), ("openCount", String(device.openCount))])
            return false
        }
        checkpoint("deactivate-before")
        try LVM().deactivate(ref)
        return true
    }

    // MARK: - Helpers

    /// Refuses a device path that is not the LV's device, before anything is changed: it
    /// must be empty, the LV's path, or a block device that is the LV's DM device.
    func checkDevicePath(_ devicePath: String, of ref: LogicalVolumeRef) throws {
        guard !devicePath.isEmpty && devicePath != ref.devicePath else { return }
        guard let number = try DeviceNumber.ofBlockDevice(devicePath),
            try DeviceMapper.info(number)?.name == ref.deviceMapperName
        else {
            throw FlexLVMError(.invalidArgument, "device path \(quoted(devicePath)) is not the device of LV \(ref)")
        }
    }

    /// The device number of the LV's active block device.
    func deviceNumber(of ref: LogicalVolumeRef, at device: String) throws -> DeviceNumber {
        guard let number = try DeviceNumber.ofBlockDevice(device) else {
            throw FlexLVMError(.notFound, "\(device) of LV \(ref) is not a block device")
        }
        return number
    }

    /// Unmounts everything stacked on `path`.
    func unmountAll(_ path: String) throws {
        for _ in 0..<16 {
            guard try MountTable.current().mount(at: path) != nil else { return }
            do {
                try MountCalls.unmount(path)
            } catch let error as FlexLVMError where (error.cause as? Errno) == .busy {
                throw FlexLVMError(.busy, "\(path) is busy (a process still uses it); it stays mounted", cause: error)
            }
        }
        throw FlexLVMError(.busy, "\(path) still has mounts after 16 unmounts")
    }

    /// Removes an empty directory; a missing one is fine. A directory that still holds files
    /// is left alone (the files were written while nothing was mounted there).
    func removeDirectory(_ path: String) throws {
        switch valueOrErrno({ rmdir(path) }) {
        case .success: return
        case .failure(let error) where error == .noSuchFile: return
        case .failure(let error) where error == Errno(ENOTEMPTY):
            throw FlexLVMError(
                .busy, "\(path) is not a mount point but holds files; they are left in place for an admin to inspect")
        case .failure(let error): throw FlexLVMError(.system, "rmdir \(path)", cause: error)
        }
    }

    /// What a failed command said first (its cause, usually), bounded.
    func commandMessage(_ result: Subprocess.Result) -> String {
        let lines = (result.standardError + "\n" + result.standardOutput).split(separator: "\n")
            .map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        return lines.isEmpty ? "no output" : quoted(lines.prefix(3).joined(separator: " / "), limit: 300)
    }
}
