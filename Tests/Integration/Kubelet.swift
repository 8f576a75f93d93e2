import FlexLVMCore
import Foundation

/// kubelet's side of the lifecycle, as the tests drive it: its paths and its call order.
extension Fixture {
    var kubeletRoot: String { work.appendingPathComponent("kubelet").path }

    /// kubelet's global mount dir for a PV.
    func globalDir(_ pv: String) -> String {
        "\(kubeletRoot)/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/\(pv)"
    }

    /// kubelet's volume dir for a PV in a pod.
    func podDir(_ pv: String, pod: String) -> String {
        "\(kubeletRoot)/pods/\(pod)/volumes/flexlvm~lvm/\(pv)"
    }

    /// attach (node side), waitforattach and mountdevice, as kubelet orders them.
    func attachAndMountDevice(_ lv: String, pv: String, extra: [String: String] = [:]) throws -> String {
        let json = options(lv, pv: pv, extra: extra)
        let attach = try driver(["attach", json, nodeName])
        try expectSuccess(attach)
        let wait = try driver(["waitforattach", attach.device ?? "", json])
        try expectSuccess(wait)
        let mount = try driver(["mountdevice", globalDir(pv), wait.device ?? "", json])
        try expectSuccess(mount)
        return wait.device ?? ""
    }

    /// mount into a pod dir (kubelet adds pod info to the JSON).
    func mountPod(
        _ lv: String, pv: String, pod: String, extra: [String: String] = [:], environment: [String: String] = [:],
        binary: String? = nil
    ) throws -> DriverReply {
        var more = extra
        more["kubernetes.io/pod.uid"] = pod
        more["kubernetes.io/pod.name"] = "pod-\(pod)"
        more["kubernetes.io/pod.namespace"] = "default"
        more["kubernetes.io/serviceAccount.name"] = "default"
        return try driver(
            ["mount", podDir(pv, pod: pod), options(lv, pv: pv, extra: more)], binary: binary, environment: environment)
    }

    /// The mount at `path` in /proc/self/mountinfo, as (device, options, fstype), or nil.
    func mountInfo(at path: String) -> (device: String, options: String, fsType: String)? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n").reversed() {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count > 9, fields[4] == path, let dash = fields.firstIndex(of: "-") {
                return (fields[2], fields[5], fields[dash + 1])
            }
        }
        return nil
    }

    /// Formats `device` with `filesystem` outside the driver, as an admin would, and mounts it
    /// on a scratch dir in the work dir; returns the dir (the caller unmounts it).
    func formatAndMountScratch(_ device: String, filesystem: String, name: String = "scratch") throws -> String {
        try run("mkfs.\(filesystem)", "-q", device)
        let scratch = work.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try run("mount", device, scratch)
        return scratch
    }

    /// Writes `bytes` random bytes to a file and returns its SHA-256 (sha256sum).
    func writeRandomFile(_ path: String, bytes: Int) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw TestFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        try run("sync")
        return try checksum(path)
    }

    func checksum(_ path: String) throws -> String {
        String(try run("sha256sum", path).prefix(64))
    }

    /// Whether writing to `directory` fails with EROFS.
    func writeFailsReadOnly(_ directory: String) -> Bool {
        let fd = open(directory + "/probe-write", O_WRONLY | O_CREAT, 0o644)
        if fd >= 0 {
            close(fd)
            return false
        }
        return errno == EROFS
    }

    /// The filesystem type blkid sees on a device (empty for none).
    func blkidType(_ device: String) -> String {
        ((try? run("blkid", "-p", "-o", "value", "-s", "TYPE", device)) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
