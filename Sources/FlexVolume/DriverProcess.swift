import FlexLVMCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Process-level plumbing shared by both executables: raw argv, the reply channel, exit.
public enum DriverProcess {
    /// argv without argv[0], as raw bytes (argv need not be UTF-8).
    public static func rawArguments() -> [[UInt8]] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer))).map { UInt8(bitPattern: $0) }
        }
    }

    /// Makes fd 1 and 2 point at a sink and returns a private descriptor for the reply.
    ///
    /// kubelet reads stdout and stderr as one JSON document, so nothing but the reply may
    /// reach them. Libraries (liblvm2cmd, libdevmapper, libblkid) and child processes may
    /// print; after this call their output lands in `sink` (a file, usually an anonymous
    /// memory file whose content is logged) instead of the reply.
    public static func takeOverStandardStreams(sink: Int32) -> Int32 {
        let reply = fcntl(1, F_DUPFD_CLOEXEC, 3)
        _ = valueOrErrno { dup2(sink, 1) }
        _ = valueOrErrno { dup2(sink, 2) }
        return reply
    }

    /// Whether any argument carries kubelet's secret keys (`kubernetes.io/secret/...`, only
    /// ever in `mount`'s options): such a call's Failure exits 0, so kubelet does not log its
    /// argv (``Reply/exitStatus(carryingSecrets:)``). A JSON object is read by its keys (so
    /// escaped slashes count too); an argument that does not parse is searched for the key
    /// prefix as bytes, so a call whose JSON is broken is covered as well.
    public static func carrySecrets(_ arguments: [[UInt8]]) -> Bool {
        let prefix = VolumeOptions.secretPrefix
        return arguments.contains { argument in
            if case .object(let members)? = try? JSONParser.parse(argument) {
                return members.contains { $0.key.hasPrefix(prefix) }
            }
            return argument.firstOffset(of: Array(prefix.utf8)) != nil
                || argument.firstOffset(of: Array("kubernetes.io\\/secret\\/".utf8)) != nil
        }
    }

    /// Whether this process's argv carries secrets; each executable reads it at its start
    /// (before any library could touch argv's memory).
    public static let argumentsCarrySecrets = carrySecrets(rawArguments())

    /// Writes `reply` as one line to `fd` and exits with its status.
    public static func finish(_ reply: Reply, fd: Int32 = 1) -> Never {
        try? Files.writeAll(fd, Array((reply.json + "\n").utf8), object: "reply")
        exit(reply.exitStatus(carryingSecrets: argumentsCarrySecrets))
    }
}
