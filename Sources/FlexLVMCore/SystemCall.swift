#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs a C call that reports failure as -1 and `errno`, retrying on EINTR, and turns a
/// failure into a ``FlexLVMError`` that names the call and the object it was applied to.
///
/// Every system call in FlexLVM goes through here or ``valueOrErrno(retryOnInterrupt:_:)``.
@inline(__always)
public func systemCall<I: FixedWidthInteger>(
    _ call: String, _ object: String, retryOnInterrupt: Bool = true, _ body: () -> I
) throws -> I {
    switch valueOrErrno(retryOnInterrupt: retryOnInterrupt, body) {
    case .success(let value): return value
    case .failure(let errno): throw FlexLVMError(.system, "\(call) \(object)", cause: errno)
    }
}

/// The value of a C call that reports failure as -1 and `errno`, retrying on EINTR.
@inline(__always)
public func valueOrErrno<I: FixedWidthInteger>(
    retryOnInterrupt: Bool = true, _ body: () -> I
) -> Result<I, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}
