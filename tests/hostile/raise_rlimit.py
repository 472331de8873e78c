# expect: refused
# kind: forbidden
# native: refused
import resource

resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
buffer = bytearray(8 * 1024 ** 3)
