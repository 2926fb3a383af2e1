package io.memalloc.internal.os;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper: what Linux says of this process's mappings, in {@code /proc/self/maps}. */
public final class ProcMaps {
    private ProcMaps() {}

    /** {@return the permissions of the mapping that holds {@code address}, as "rw-p" or "---p"} */
    public static String permissionsAt(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] fields = line.split(" ", 3);
            String[] range = fields[0].split("-", 2);
            if (Long.compareUnsigned(address, Long.parseUnsignedLong(range[0], 16)) >= 0
                    && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0) {
                return fields[1];
            }
        }
        throw new AssertionError("no mapping holds 0x" + Long.toHexString(address));
    }
}
