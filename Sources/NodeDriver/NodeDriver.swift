import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The node-side FlexVolume operations: activation, inspection and release of LVs, all
/// in-process (liblvm2cmd for changes, libdevmapper for the kernel's view).
public struct NodeDriver {
    public let configuration: Configuration
    public let log: DriverLog?
    let answers: ControllerAnswers
    let volumeMap: VolumeMap
    /// How long mkfs and filesystem growth may take.
    public var commandTimeout: Double = 600
    /// How long to wait for an activated LV's block device to appear.
    public var deviceTimeout: Double = 30

    public init(configuration: Configuration, log: DriverLog?) {
        self.configuration = configuration
        self.log = log
        // The attach capability matters only for `init`, answered by ``Reply/initialize()``.
        answers = ControllerAnswers(localNode: NodeIdentity.localNodeName(configuration), attach: true)
        volumeMap = VolumeMap(stateDir: configuration.stateDir)
    }

    /// Runs a call that needs the node (see ``ControllerAnswers/answer(_:)`` for the rest).
    public func perform(_ call: Call) throws -> Reply {
        switch call {
        case .initialize:
            return .initialize()
        case .getVolumeName:
            return .notSupported
        case .attach(let options, _):
            guard deviceMapperPresent else { return try answers.remoteAttach(options) }
            return try attach(options)
        case .isAttached(let options, _):
            guard deviceMapperPresent else { return try answers.remoteIsAttached(options) }
            return try isAttached(options)
        case .detach(let volumeName, _):
            guard deviceMapperPresent else { return answers.remoteDetach() }
            return try detach(volumeName)
        case .waitForAttach(let devicePath, let options):
            return try waitForAttach(devicePath: devicePath, options)
        case .mountDevice(let mountPath, let devicePath, let options):
            return try mountDevice(mountPath: mountPath, devicePath: devicePath, options)
        case .unmountDevice(let mountPath):
            return try unmountDevice(mountPath: mountPath)
        case .mount(let podDir, let options):
            return try mount(podDir: podDir, options)
        case .unmount(let podDir):
            return try unmount(podDir: podDir)
        case .expandFS(let options, let devicePath, let mountPath, let newSize, let oldSize):
            return try expandFilesystem(
                options, devicePath: devicePath, mountPath: mountPath, newSize: newSize, oldSize: oldSize)
        case .expandVolume(let options, _, let newSize, let oldSize):
            return try expandVolume(options, newSize: newSize, oldSize: oldSize)
        }
    }

    /// Where there is no device-mapper (a controller host that happens to share the node's
    /// name), attach, isattached and detach get the controller-side answers.
    var deviceMapperPresent: Bool { DeviceMapper.isAvailable() }

    // MARK: - Activation

    /// The LV's block device, activating the LV when it is not active.
    ///
    /// Hot path: an active LV is recognised from one DM_DEVICE_INFO ioctl and one stat,
    /// with no LVM metadata scan.
    func ensureActive(_ ref: LogicalVolumeRef) throws -> String {
        try activate(ref).device
    }

    /// Like ``ensureActive(_:)``, also saying whether this call activated the LV.
    func activate(_ ref: LogicalVolumeRef) throws -> (device: String, activated: Bool) {
        if let active = try DeviceMapper.activeLogicalVolume(ref) {
            // Already active, so no metadata is read: two cheap checks keep snapshots from pods.
            if let reason = try SnapshotGuard.activeSnapshotReason(
                ref, device: active, stateDir: configuration.stateDir)
            {
                throw SnapshotGuard.refusal(ref, reason)
            }
            if let device = try activeDevice(ref, waitForNode: true) { return (device, false) }
        }
        let lvm = try LVM()
        let info = try lvm.logicalVolume(ref)
        if "sS".contains(info.volumeType) {
            throw SnapshotGuard.refusal(ref, "a COW snapshot (lv_attr \(info.attributes))")
        }
        if info.tags.contains(LVM.snapshotTag) {
            throw SnapshotGuard.refusal(ref, "a snapshot (tagged \(LVM.snapshotTag))")
        }
        guard info.isMountable else {
            throw FlexLVMError(
                .unsupported,
                "LV \(ref) is \(info.typeDescription) (lv_attr \(info.attributes)), which cannot hold a filesystem")
        }
        let attributes = Array(info.attributes)
        if attributes.count > 9 && attributes[9] == "k" {
            throw FlexLVMError(
                .unsupported,
                "LV \(ref) has LVM's activation-skip flag set; clear it with 'lvchange --setactivationskip n \(ref)'")
        }
        checkpoint("activate-before")
        try lvm.activate(ref)
        checkpoint("activate-after")
        return (try waitForDevice(ref, uuid: info.deviceMapperUUID), true)
    }

    /// The device path when the kernel has the LV active (an LVM DM UUID and a live table),
    /// nil when it is not active.
    func activeDevice(_ ref: LogicalVolumeRef, waitForNode: Bool) throws -> String? {
        guard let device = try DeviceMapper.activeLogicalVolume(ref) else { return nil }
        if try DeviceMapper.nodeMatches(ref, device) || !waitForNode { return ref.devicePath }
        return try waitForDevice(ref, uuid: device.uuid)
    }

    /// Waits (bounded) until the DM device with `uuid` exists under the LV's name and its
    /// block device node carries the same device number.
    func waitForDevice(_ ref: LogicalVolumeRef, uuid: String) throws -> String {
        let deadline = Clock.monotonicNanoseconds() + UInt64(deviceTimeout * 1e9)
        var seen: DeviceInfo?
        while true {
            seen = try DeviceMapper.info(uuid: uuid)
            if let device = seen, device.name == ref.deviceMapperName, device.hasLiveTable,
                try DeviceMapper.nodeMatches(ref, device)
            {
                return ref.devicePath
            }
            if Clock.monotonicNanoseconds() >= deadline { break }
            usleep(20_000)
        }
        let state =
            seen.map { "the DM device is \($0.major):\($0.minor) but \(ref.devicePath) is missing or differs" }
            ?? "LVM activated nothing (no DM device with UUID \(uuid))"
        throw FlexLVMError(
            .timeout, "device \(ref.devicePath) of LV \(ref) did not appear within \(Int(deviceTimeout)) s: \(state)")
    }

    // MARK: - Helpers

    func lockVolume(_ ref: LogicalVolumeRef) throws -> FileLock {
        try FileLock(path: lockPath(ref))
    }

    func lockPath(_ ref: LogicalVolumeRef) -> String { configuration.lockPath(ref) }

    /// kubelet's root and the pod volume of a pod dir kubelet passed (any `--root-dir`;
    /// only the `kubeletRoot` setting's root when it is set, except for the calls that
    /// release volumes: a setting changed while pods run must not keep them in Terminating).
    func locate(podDir: String, releasing: Bool = false) throws -> (KubeletPaths, KubeletPaths.PodVolume) {
        try KubeletPaths.locate(podVolumeDir: podDir, allowedRoot: releasing ? nil : configuration.kubeletRoot)
    }

    /// kubelet's root and the volume name of a global mount dir kubelet passed.
    func locate(globalMountPath: String, releasing: Bool = false) throws -> (KubeletPaths, volumeName: String) {
        try KubeletPaths.locate(
            globalMountPath: globalMountPath, allowedRoot: releasing ? nil : configuration.kubeletRoot)
    }

    /// The LV the options name, if the node's `volumeGroups` setting allows its VG.
    func volume(_ options: VolumeOptions) throws -> LogicalVolumeRef {
        try configuration.servedVolume(options)
    }

    /// Deactivates the LVs this node recorded (attached or mounted through the driver) that
    /// are active but neither open nor mounted anywhere: what a crash between unmounting and
    /// deactivating leaves, which kubelet never retries. LVs whose lock is held are skipped.
    @discardableResult
    func releaseIdleRecordedVolumes() throws -> ReconcileReport {
        var report = ReconcileReport()
        let table = try MountTable.current()
        for ref in Set(try volumeMap.entries().map(\.ref)).sorted(by: { $0.lvmPath < $1.lvmPath }) {
            guard let device = try DeviceMapper.info(name: ref.deviceMapperName) else {
                report.inactive += 1
                continue
            }
            guard device.openCount == 0,
                table.mounts(of: DeviceNumber(major: device.major, minor: device.minor)).isEmpty
            else {
                report.inUse.append(ref)
                continue
            }
            guard let lock = try FileLock.tryLock(path: lockPath(ref)) else {
                report.busy.append(ref)
                continue
            }
            defer { lock.release() }
            do {
                if try releaseIfUnused(ref) { report.released.append(ref) } else { report.inUse.append(ref) }
            } catch {
                report.failures.append("\(ref): \(error)")
            }
        }
        return report
    }

    /// Records the PV name for `detach`.
    func remember(_ options: VolumeOptions, _ ref: LogicalVolumeRef) throws {
        try volumeMap.remember(options, ref)
    }
}

extension NodeDriver {
    /// A named step at which the reliability tests can kill the driver (SIGKILL) by setting
    /// `FLEXLVM_TEST_KILL_AT` to its name. Compiled only into debug builds: release builds
    /// have no such behaviour.
    ///
    /// `FLEXLVM_TEST_PAUSE_AT` instead holds the driver at the step for
    /// `FLEXLVM_TEST_PAUSE_MS` milliseconds (after logging `test-pause`), so a test can change
    /// the node between the driver's checks and its action.
    func checkpoint(_ step: String) {
        #if DEBUG
            if Environment.value("FLEXLVM_TEST_KILL_AT") == step {
                log?.record("warning", "test-kill", [("step", step)])
                kill(getpid(), SIGKILL)
            }
            if Environment.value("FLEXLVM_TEST_PAUSE_AT") == step {
                log?.record("warning", "test-pause", [("step", step)])
                usleep(UInt32(Environment.value("FLEXLVM_TEST_PAUSE_MS").flatMap { UInt32($0) } ?? 1000) * 1000)
            }
        #endif
    }

    /// A step while a child runs: the test kills the child and then the driver, as a node
    /// crash would. Debug builds only, like ``checkpoint(_:)``.
    func checkpointDuringChild(_ step: String, child: pid_t) {
        #if DEBUG
            if Environment.value("FLEXLVM_TEST_KILL_AT") == step {
                usleep(UInt32(Environment.value("FLEXLVM_TEST_KILL_DELAY_US").flatMap { UInt32($0) } ?? 50_000))
                kill(child, SIGKILL)
                checkpoint(step)
            }
        #endif
    }
}
