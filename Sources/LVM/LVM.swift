import CLVM
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume

/// liblvm2cmd in this process: one handle, commands run with `lvm2_run`, their messages
/// captured (see ``LibraryMessages``). Not thread-safe; one per process.
public final class LVM {
    private let handle: UnsafeMutableRawPointer

    /// lvm2_init's result codes (lvm2cmd.h).
    public enum Status: Int32, Sendable {
        case succeeded = 1
        case noSuchCommand = 2
        case invalidParameters = 3
        case initFailed = 4
        case processingFailed = 5

        var text: String {
            switch self {
            case .succeeded: return "succeeded"
            case .noSuchCommand: return "no such command"
            case .invalidParameters: return "invalid parameters"
            case .initFailed: return "initialisation failed"
            case .processingFailed: return "processing failed"
            }
        }
    }

    /// What one command printed and said.
    public struct Output: Sendable {
        /// Lines LVM printed (report rows, confirmations).
        public let lines: [String]
        /// Everything LVM said, errors included.
        public let messages: [LibraryMessages.Message]
    }

    /// Opens a handle; library messages must already be routed (``LibraryMessages/install(log:)``).
    public init() throws {
        flexlvm_lvm_set_log_sink { level, text in
            guard let text else { return }
            LibraryMessages.shared.receive(.init(source: .lvm, level: Int(level), text: String(cString: text)))
        }
        var error = [CChar](repeating: 0, count: 512)
        guard flexlvm_lvm_load(&error, error.count) == 0 else {
            let text = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw FlexLVMError(.lvm, "liblvm2cmd cannot be loaded (\(text)); install lvm2 (liblvm2cmd 2.03)")
        }
        let (handle, messages) = LibraryMessages.shared.capturing { flexlvm_lvm_init() }
        guard let handle else {
            throw FlexLVMError(
                .lvm, "lvm2_init failed",
                cause: LVMMessagesError(messages: messages.filter(\.isError).map(\.text)))
        }
        self.handle = handle
        flexlvm_lvm_disable_monitoring(handle)
    }

    deinit { flexlvm_lvm_exit(handle) }

    /// Runs one LVM command line, e.g. `["lvchange", "-ay", "vg/lv"]`, for `object`.
    ///
    /// Every word must be free of white space and quotes (names are validated against LVM's
    /// rules before they get here), because liblvm2cmd splits the line itself.
    @discardableResult
    public func run(_ words: [String], for object: String) throws -> Output {
        for word in words
        where word.isEmpty
            || word.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "\n" })
        {
            throw FlexLVMError(.internalError, "unsafe word \(quoted(word)) in an LVM command line")
        }
        let line = words.joined(separator: " ")
        LibraryMessages.shared.note("lvm-command", line)
        let (raw, messages) = LibraryMessages.shared.capturing { flexlvm_lvm_run(handle, line) }
        let output = Output(
            lines: messages.filter { $0.source == .lvm && $0.level == 4 }.map(\.text), messages: messages)
        guard raw == Status.succeeded.rawValue else {
            let status = Status(rawValue: raw)
            let errors = messages.filter(\.isError).map(\.text)
            throw FlexLVMError(
                .lvm, "LVM refused '\(line)' for \(object) (\(status?.text ?? "status \(raw)"))",
                cause: LVMMessagesError(messages: errors))
        }
        return output
    }
}

/// LVM's own error messages, carried as an error's cause.
public struct LVMMessagesError: Error, Sendable, CustomStringConvertible {
    public let messages: [String]
    public var description: String { messages.isEmpty ? "LVM gave no message" : messages.joined(separator: "; ") }
}
