import ArgumentParser
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm agent`: the node agent the DaemonSet runs (manifests/daemonset.yaml).
struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the driver, then reconcile, write metrics and run doctor every --every seconds.",
        discussion: """
            The DaemonSet's node agent. It installs the plugin files from beside this binary into \
            --plugin-dir (as 'install' does), enters the mount namespace and root of --host-pid (1, the \
            host's init, in a pod with hostPID: true), and then every --every seconds runs the driver \
            file installed on the host (--host-plugin-dir), so with the host's own libraries, mounts, \
            devices, locks and state: 'reconcile' (releases LVs left active without an owner), 'metrics \
            --output-file' (with --metrics-file) and 'doctor'. Each run is bounded by --timeout. The \
            ready file (--ready-file, in this container's file system) exists only while the driver is \
            installed and doctor reports no failure; 'agent --probe' checks it (a readinessProbe). If \
            the installed driver disappears, the agent exits 1, so that its container restarts and \
            installs it again. Children get PATH and the FLEXLVM_*, LVM_* and DM_* variables of this \
            process.

            Example: flexlvm agent --plugin-dir /host/plugin-dir --host-plugin-dir /usr/libexec/kubernetes/kubelet-plugins/volume/exec --ready-file /run/flexlvm-agent/ready
            Example: flexlvm agent --probe --ready-file /run/flexlvm-agent/ready
            """)

    @Option(help: "The FlexVolume plugin dir to install into, as this process sees it (a hostPath in a pod).")
    var pluginDir: String = defaultPluginDir
    @Option(help: "The same dir as the host sees it (default: --plugin-dir).") var hostPluginDir: String?
    @Option(help: "Enter the mount namespace and root of this process (1: the host's init); 0 stays here.")
    var hostPid: Int32 = 1
    @Option(help: "Seconds from the start of one pass to the start of the next.") var every: Int = 60
    @Option(help: "Seconds each child (reconcile, metrics, doctor) may run.") var timeout: Int = 60
    @Option(help: "The host file 'flexlvm metrics --output-file' writes (Prometheus text); unset: no metrics.")
    var metricsFile: String?
    @Option(help: "The readiness file, in this process's file system (an emptyDir in a pod).")
    var readyFile: String?
    @Option(help: "Stop after this many passes (0: never); then exit 0 when ready, 1 otherwise.")
    var passes: Int = 0
    @Flag(help: "Only check --ready-file: exit 0 when it says ready, 1 otherwise (the readinessProbe).")
    var probe = false

    func validate() throws {
        guard every >= 1 && every <= 86400 else { throw ValidationError("--every must be 1 to 86400 seconds") }
        guard timeout >= 1 && timeout <= 3600 else { throw ValidationError("--timeout must be 1 to 3600 seconds") }
        guard hostPid >= 0 else { throw ValidationError("--host-pid must be a process id, or 0") }
        guard passes >= 0 else { throw ValidationError("--passes must be 0 or more") }
        for (name, path) in [
            ("--plugin-dir", pluginDir), ("--host-plugin-dir", hostPluginDir), ("--metrics-file", metricsFile),
            ("--ready-file", readyFile),
        ] {
            if let path, !path.hasPrefix("/") { throw ValidationError("\(name) must be an absolute path") }
        }
        if probe && readyFile == nil { throw ValidationError("--probe needs --ready-file") }
    }

    func run() throws {
        if probe {
            let result = ReadyFile.check(readyFile!, now: Int64(time(nil)))
            say(result.description, stamped: false)
            if case .notReady = result { throw ExitCode(1) }
            return
        }
        try admin {
            // The ready file's dir is opened here, before the host's namespace is entered: it
            // stays in this container's file system, where the readinessProbe looks.
            let ready = try readyFile.map { try ReadyFile(path: $0) }
            try ready?.remove()  // left by an earlier run of this container
            let installed = try PluginLayout.install(into: pluginDir)
            say("installed \(installed.driverFile) and \(installed.nodeBinary) (driver flexlvm/lvm)")
            let host = PluginLayout(pluginDir: hostPluginDir ?? pluginDir)
            let identity = try FileIdentity(installed.driverFile)
            if hostPid != 0 {
                let (left, entered) = try HostNamespace.enter(pid: hostPid)
                say("entered the mount namespace and root of process \(hostPid) (\(left) -> \(entered))")
            }
            guard let seen = try? FileIdentity(host.driverFile), seen == identity else {
                throw FlexLVMError(
                    .invalidArgument,
                    "\(host.driverFile) is not the file just installed as \(installed.driverFile): "
                        + "--host-plugin-dir must name the host's path of --plugin-dir")
            }
            var number = 0
            while true {
                number += 1
                let started = Clock.monotonicNanoseconds()
                let outcome = pass(number, host: host)
                if outcome.isReady {
                    try ready?.write(
                        expires: Int64(time(nil)) + Int64(every + 3 * timeout + 30), driver: host.driverFile)
                } else {
                    try ready?.remove()
                }
                if !outcome.installed {
                    throw FlexLVMError(
                        .notFound,
                        "the driver is no longer installed at \(host.driverFile): exiting, so that this "
                            + "container restarts and installs it again")
                }
                if passes > 0 && number >= passes {
                    if !outcome.isReady { throw ExitCode(1) }
                    return
                }
                let elapsed = Int((Clock.monotonicNanoseconds() - started) / 1_000_000_000)
                if elapsed < every { sleep(UInt32(every - elapsed)) }
            }
        }
    }

    /// One pass: reconcile, metrics, doctor, each a child running the host's driver file.
    func pass(_ number: Int, host: PluginLayout) -> AgentPass {
        var outcome = AgentPass(installed: Files.exists(host.driverFile) && Files.exists(host.nodeBinary))
        guard outcome.installed else {
            say("pass \(number): not ready: \(host.driverFile) or \(host.nodeBinary) is missing")
            return outcome
        }
        let driver = host.driverFile
        var parts: [String] = []
        var details: [String] = []

        let reconcile = AgentChild.run([driver, "reconcile"], timeout: timeout)
        let reconcileLines = reconcile.outputLines
        if reconcile.succeeded {
            parts.append(reconcileLines.last ?? "reconcile: done")
            details += reconcileLines.dropLast().map { "  reconcile: \($0)" }
        } else {
            parts.append("reconcile failed (\(reconcile.failure))")
            details += reconcileLines.map { "  reconcile: \($0)" }
        }

        if let metricsFile {
            try? Files.makeDirectories(Paths.directory(of: metricsFile), mode: 0o755)
            let before = try? FileIdentity(metricsFile)
            let metrics = AgentChild.run([driver, "metrics", "--output-file", metricsFile], timeout: timeout)
            let after = try? FileIdentity(metricsFile)
            outcome.metricsWritten = metrics.succeeded && after != nil && after != before
            if outcome.metricsWritten == true {
                parts.append("metrics written to \(metricsFile)")
            } else if metrics.succeeded {
                parts.append(
                    "metrics failed (exit 0, but \(metricsFile) was not written: \(metrics.firstLine))")
            } else {
                parts.append("metrics failed (\(metrics.failure))")
            }
        }

        let doctorRun = AgentChild.run(
            [driver, "doctor", "--plugin-dir", host.pluginDir, "--output", "json"], timeout: timeout)
        outcome.doctor = DoctorVerdict(doctorRun)
        switch outcome.doctor {
        case .pass(let warnings):
            parts.append("doctor: ok" + (warnings.isEmpty ? "" : ", \(warnings.count) warning(s)"))
            details += warnings.map { "  doctor warn: \($0)" }
        case .fail(let failures):
            parts.append("doctor: \(failures.count) failure(s)")
            details += failures.map { "  doctor FAIL: \($0)" }
        case .error(let why):
            parts.append("doctor gave no verdict (\(why))")
        }
        say("pass \(number): \(outcome.isReady ? "ready" : "not ready"); " + parts.joined(separator: "; "))
        for line in details { say(line, stamped: false) }
        return outcome
    }
}

/// What one pass found.
struct AgentPass: Equatable {
    /// The driver file and the node binary are in the host's plugin dir.
    var installed: Bool
    var doctor: DoctorVerdict = .error("not run")
    /// Whether `metrics` wrote its file; nil when no metrics file is asked for.
    var metricsWritten: Bool?

    /// Ready: installed, and doctor found nothing that blocks operation. Reconcile and metrics
    /// failures are logged but do not make the node unready: the driver serves volumes without them.
    var isReady: Bool {
        guard installed, case .pass = doctor else { return false }
        return true
    }
}

/// Doctor's verdict, from its `--output json` run.
enum DoctorVerdict: Equatable {
    /// No check failed; the warnings, as "name: detail".
    case pass(warnings: [String])
    /// The failed checks, as "name: detail (fix: ...)".
    case fail([String])
    /// No verdict: doctor timed out, crashed, or printed no report.
    case error(String)

    init(_ run: AgentChild) {
        guard run.spawnError == nil, !run.timedOut else {
            self = .error(run.failure)
            return
        }
        self = DoctorVerdict(status: run.status, json: run.stdout, stderr: run.firstLine)
    }

    init(status: Int32, json: [UInt8], stderr: String = "") {
        guard case .object(let report)? = try? JSONParser.parse(json),
            case .bool(let ok)? = report.first(where: { $0.key == "ok" })?.value,
            case .array(let checks)? = report.first(where: { $0.key == "checks" })?.value
        else {
            self = .error("exit \(status), no report" + (stderr.isEmpty ? "" : ": \(stderr)"))
            return
        }
        var warnings: [String] = []
        var failures: [String] = []
        for case .object(let members) in checks {
            func text(_ key: String) -> String {
                if case .string(let value)? = members.first(where: { $0.key == key })?.value { return value }
                return ""
            }
            switch text("status") {
            case "warning": warnings.append("\(text("name")): \(text("detail"))")
            case "fail":
                failures.append(
                    "\(text("name")): \(text("detail"))" + (text("fix").isEmpty ? "" : " (fix: \(text("fix")))"))
            default: break
            }
        }
        if ok && status == 0 && failures.isEmpty {
            self = .pass(warnings: warnings)
        } else if !ok && status != 0 && !failures.isEmpty {
            self = .fail(failures)
        } else {
            self = .error("exit \(status) with ok=\(ok) and \(failures.count) failed check(s)")
        }
    }
}

/// One child the agent ran: the host's driver file with argv, bounded in time.
struct AgentChild {
    var status: Int32 = 0
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var timedOut = false
    var spawnError: String?
    var timeout = 0

    /// Runs `arguments` with PATH and this process's FLEXLVM_*, LVM_* and DM_* variables.
    static func run(_ arguments: [String], timeout: Int) -> AgentChild {
        var child = AgentChild(timeout: timeout)
        do {
            let result = try Subprocess.run(
                arguments, environment: environment(Environment.all()), timeout: Double(timeout))
            child.status = result.status
            child.stdout = result.stdout
            child.stderr = result.stderr
            child.timedOut = result.timedOut
        } catch {
            child.spawnError = "\(error)"
        }
        return child
    }

    /// The children's environment: a standard PATH, and the driver's, LVM's and libdevmapper's
    /// own settings from `inherited`.
    static func environment(_ inherited: [String]) -> [String] {
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
            + inherited.filter { entry in
                ["FLEXLVM_", "LVM_", "DM_"].contains { entry.hasPrefix($0) } && entry.contains("=")
            }
    }

    var succeeded: Bool { spawnError == nil && !timedOut && status == 0 }

    /// Stdout's non-empty lines.
    var outputLines: [String] {
        String(decoding: stdout, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The first line of stderr, else of stdout, for a message.
    var firstLine: String {
        let text = String(decoding: stderr.isEmpty ? stdout : stderr, as: UTF8.self)
        return quoted(text.split(separator: "\n").first.map(String.init) ?? "", limit: 300)
    }

    /// Why it failed, for the log.
    var failure: String {
        if let spawnError { return "could not start: \(spawnError)" }
        if timedOut { return "timed out after \(timeout) s" }
        return "exit \(status): \(firstLine)"
    }
}

/// A file's identity and modification time: a different value means another file, or new contents.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
    let modified: Int64
    let modifiedNanoseconds: Int

    init(_ path: String) throws {
        guard let info = try Files.status(path) else { throw FlexLVMError(.notFound, "\(path) does not exist") }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        modified = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    }
}

/// The agent's readiness signal: a small file that exists only while the node is ready, and
/// says until when that answer holds (a stuck agent must not stay ready forever).
///
///     expires=1764091234
///     checked=2026-11-25T17:20:34.120Z
///     driver=/usr/libexec/kubernetes/kubelet-plugins/volume/exec/flexlvm~lvm/lvm
struct ReadyFile {
    let path: String
    private let directoryFD: Int32
    private let name: String

    /// Creates the file's dir if needed and opens it: writes and removals go through that
    /// descriptor, so they reach this dir even after the process has entered another mount
    /// namespace.
    init(path: String) throws {
        self.path = path
        name = Paths.baseName(of: path)
        let directory = Paths.directory(of: path)
        try Files.makeDirectories(directory, mode: 0o755)
        directoryFD = try systemCall("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    /// Says ready until `expires` (seconds since the epoch): written under a dot-name and
    /// renamed into place, so a probe never reads half a file.
    func write(expires: Int64, driver: String) throws {
        let temporary = ".\(name).tmp"
        let text = "expires=\(expires)\nchecked=\(Clock.timestamp())\ndriver=\(driver)\n"
        let fd = try systemCall("open", temporary) {
            openat(directoryFD, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        }
        do {
            try Files.writeAll(fd, Array(text.utf8), object: path)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        _ = try systemCall("rename", path) { renameat(directoryFD, temporary, directoryFD, name) }
    }

    /// Removes the file: not ready. A file already gone is fine.
    func remove() throws {
        switch valueOrErrno({ unlinkat(directoryFD, name, 0) }) {
        case .success: return
        case .failure(let error) where error == .noSuchFile: return
        case .failure(let error): throw FlexLVMError(.system, "unlink \(path)", cause: error)
        }
    }

    /// The probe's answer.
    enum Probe: Equatable, CustomStringConvertible {
        case ready(String)
        case notReady(String)

        var description: String {
            switch self {
            case .ready(let detail): return "ready: \(detail)"
            case .notReady(let detail): return "not ready: \(detail)"
            }
        }
    }

    /// Whether the file at `path` says ready at `now` (seconds since the epoch).
    static func check(_ path: String, now: Int64) -> Probe {
        let bytes: [UInt8]
        do {
            guard Files.exists(path) else {
                return .notReady(
                    "no \(path): the agent has not found the driver installed and doctor passing (see its log)")
            }
            bytes = try Files.read(path, limit: 4096)
        } catch {
            return .notReady("\(error)")
        }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let expires = fields["expires"].flatMap({ Int64($0) }) else {
            return .notReady("\(path) has no valid expires= line")
        }
        guard now <= expires else {
            return .notReady(
                "\(path) expired \(now - expires) s ago: the agent has finished no pass since "
                    + (fields["checked"] ?? "?"))
        }
        return .ready("driver \(fields["driver"] ?? "?"), checked \(fields["checked"] ?? "?")")
    }
}

/// Prints one line at once (stdout is a pipe in a pod, and would otherwise be buffered).
private func say(_ line: String, stamped: Bool = true) {
    print(stamped ? "\(Clock.timestamp()) \(line)" : line)
    fflush(nil)  // all output streams; stdout is one
}
