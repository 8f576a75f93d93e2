import CSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs a program with an argv (never a shell), stdin from /dev/null, stdout and stderr
/// captured, bounded in time: on timeout it gets SIGTERM, then SIGKILL after a grace period.
public enum Subprocess {
    /// How a child ended and what it printed.
    public struct Result: Sendable {
        /// The exit code, or 128 + the signal number when killed.
        public let status: Int32
        public let stdout: [UInt8]
        public let stderr: [UInt8]
        public let timedOut: Bool

        public var succeeded: Bool { status == 0 && !timedOut }
        public var standardOutput: String { String(decoding: stdout, as: UTF8.self) }
        public var standardError: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Output beyond this many bytes per stream is read and dropped.
    public static let outputLimit = 1 << 20

    /// Runs `arguments[0]` (an absolute path, or a name looked up in `PATH`).
    ///
    /// - Parameters:
    ///   - environment: `NAME=value` strings; nil inherits this process's environment.
    ///   - timeout: seconds; nil waits forever.
    ///   - inherit: descriptors the child keeps (as 3, 4, ...), for example a lock it must
    ///     hold for as long as it runs.
    ///   - onSpawn: called with the child's pid once it runs.
    public static func run(
        _ arguments: [String], environment: [String]? = nil, timeout: Double? = nil, killGrace: Double = 5,
        inherit: [Int32] = [], onSpawn: ((pid_t) -> Void)? = nil
    ) throws -> Result {
        guard let program = arguments.first else {
            throw FlexLVMError(.internalError, "Subprocess.run with no program")
        }
        return try run(
            program: program, rawArguments: arguments.dropFirst().map { Array($0.utf8) }, environment: environment,
            timeout: timeout, killGrace: killGrace, inherit: inherit, onSpawn: onSpawn)
    }

    /// Runs `program` with arguments given as raw bytes (which need not be UTF-8).
    public static func run(
        program: String, rawArguments: [[UInt8]], environment: [String]? = nil, timeout: Double? = nil,
        killGrace: Double = 5, inherit: [Int32] = [], onSpawn: ((pid_t) -> Void)? = nil
    ) throws -> Result {
        let path = try resolve(program)

        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        _ = try systemCall("pipe", program) { pipe(&outPipe) }
        defer { for fd in outPipe where fd >= 0 { close(fd) } }
        _ = try systemCall("pipe", program) { pipe(&errPipe) }
        defer { for fd in errPipe where fd >= 0 { close(fd) } }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // The child gets stdin, stdout, stderr and the inherited descriptors (moved to 3, 4,
        // ...), nothing else: a descriptor another thread opened meanwhile must not leak
        // into it (a leaked descriptor on a mount makes that mount busy).
        for (offset, fd) in inherit.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + offset))
        }
        flexlvm_spawn_add_closefrom(&actions, Int32(3 + inherit.count))

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv =
            [strdup(program)]
            + rawArguments.map { bytes -> UnsafeMutablePointer<CChar>? in
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
                copy[bytes.count] = 0
                return copy
            } + [nil]
        defer {
            free(argv[0])
            for pointer in argv.dropFirst() { pointer?.deallocate() }
        }
        let envStrings = environment.map { $0.map { strdup($0) } + [nil] }
        defer { for pointer in envStrings ?? [] { free(pointer) } }

        var pid: pid_t = 0
        let spawned = argv.withUnsafeBufferPointer { argvBuffer in
            if let envStrings {
                return envStrings.withUnsafeBufferPointer { envBuffer in
                    posix_spawn(
                        &pid, path, &actions, &attributes, UnsafeMutablePointer(mutating: argvBuffer.baseAddress!),
                        UnsafeMutablePointer(mutating: envBuffer.baseAddress!))
                }
            }
            return posix_spawn(
                &pid, path, &actions, &attributes, UnsafeMutablePointer(mutating: argvBuffer.baseAddress!), environ)
        }
        guard spawned == 0 else {
            throw FlexLVMError(.system, "posix_spawn \(path)", cause: Errno(spawned))
        }
        close(outPipe[1])
        outPipe[1] = -1
        close(errPipe[1])
        errPipe[1] = -1
        onSpawn?(pid)

        let start = Clock.monotonicNanoseconds()
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        var timedOut = false
        var killAt: UInt64?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var wait: Int32 = -1
            let now = Clock.monotonicNanoseconds()
            if let timeout, !timedOut {
                let deadline = start + UInt64(timeout * 1e9)
                if now >= deadline {
                    timedOut = true
                    kill(pid, SIGTERM)
                    killAt = now + UInt64(killGrace * 1e9)
                } else {
                    wait = Int32(min(1000, (deadline - now) / 1_000_000 + 1))
                }
            }
            if let killAt {
                if now >= killAt {
                    kill(pid, SIGKILL)
                    break
                }
                wait = Int32(min(1000, (killAt - now) / 1_000_000 + 1))
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno != EINTR { break }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 {
                    open.removeAll { $0 == entry.fd }
                    continue
                }
                if entry.fd == outPipe[0] {
                    if stdout.count < outputLimit { stdout.append(contentsOf: buffer[0..<count]) }
                } else if stderr.count < outputLimit {
                    stderr.append(contentsOf: buffer[0..<count])
                }
            }
        }
        // The pipes can close before the child exits (or it ignores SIGTERM, or sits in the
        // kernel): the deadline also bounds the wait.
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid || (waited == -1 && errno != EINTR) { break }
            let now = Clock.monotonicNanoseconds()
            if let timeout, killAt == nil, now >= start + UInt64(timeout * 1e9) {
                timedOut = true
                kill(pid, SIGTERM)
                killAt = now + UInt64(killGrace * 1e9)
            }
            if let deadline = killAt, now >= deadline {
                kill(pid, SIGKILL)
                if now >= deadline + UInt64(killGrace * 1e9) {
                    // Unkillable (uninterruptible I/O): give up waiting; the kernel reaps it later.
                    return Result(status: 128 + SIGKILL, stdout: stdout, stderr: stderr, timedOut: true)
                }
            }
            usleep(5_000)
        }
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exitCode, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// `program` itself when it contains a slash, else the first executable of that name in
    /// `PATH` (or the standard system directories).
    public static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let search = Environment.value("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in search.split(separator: ":") {
            let candidate = Paths.join(String(directory), program)
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw FlexLVMError(.notFound, "\(program) not found in PATH (\(search))")
    }
}
