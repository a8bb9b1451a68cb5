// The header declares what compiler-rt defines; SwiftPM needs a source file.
