// The floor for process start in scripts/bench: a static Swift hello-world built by the
// same toolchain as the driver.
print("{\"status\":\"Success\"}")
