import FlexLVMCore

/// The durable map from a PV (or inline volume) name to the LV it names.
///
/// `detach` is given only the PV name (contract §1), yet on the node it must deactivate the
/// right LV. `attach` and `waitforattach` record the pair here, one small file per volume
/// under the state dir (outside the plugin dir, so writes never re-trigger `init`).
public struct VolumeMap: Sendable {
    public let directory: String

    public init(stateDir: String) { directory = Paths.join(stateDir, "volumes") }

    private func path(_ volumeName: String) -> String { Paths.join(directory, volumeName) }

    /// The LV recorded for `volumeName`, or nil.
    public func lookup(_ volumeName: String) throws -> LogicalVolumeRef? {
        guard Files.exists(path(volumeName)) else { return nil }
        let text = String(decoding: try Files.read(path(volumeName), limit: 4096), as: UTF8.self).trimmingSpaces
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw FlexLVMError(.internalError, "state file \(path(volumeName)) does not hold 'vg/lv': \(quoted(text))")
        }
        return try LogicalVolumeRef(volumeGroup: String(parts[0]), name: String(parts[1]))
    }

    /// Records that `volumeName` names `ref` (a no-op when already recorded).
    public func record(_ volumeName: String, _ ref: LogicalVolumeRef) throws {
        if (try? lookup(volumeName)) == ref { return }
        try Files.makeDirectories(directory, mode: 0o755)
        try Files.writeAtomically(path(volumeName), Array("\(ref.lvmPath)\n".utf8))
    }

    /// Every recorded volume name with its LV (entries that no longer parse are skipped).
    public func entries() throws -> [(volumeName: String, ref: LogicalVolumeRef)] {
        try Files.list(directory).filter { !$0.hasPrefix(".") }.compactMap { name in
            (try? lookup(name)).flatMap { $0 }.map { (name, $0) }
        }
    }

    /// Forgets `volumeName`.
    public func remove(_ volumeName: String) throws {
        try Files.removeIfPresent(path(volumeName))
    }
}

#if canImport(Glibc)
    import Glibc
#endif
