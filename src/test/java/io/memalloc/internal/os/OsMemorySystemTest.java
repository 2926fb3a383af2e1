package io.memalloc.internal.os;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link OsMemory.SystemMemory#forOsName} and {@link OsMemory#system()}. Each implementation links the real
 * downcalls when it is made, so only the current system's choice can be built here: {@link WindowsDowncalls}
 * cannot even be initialized off Windows (its static capture-state handle names {@code GetLastError}, and it looks
 * kernel32 up in its constructor), and the macOS constants ask the real {@code sysconf} for name 29.
 */
class OsMemorySystemTest {

    @ParameterizedTest
    @ValueSource(strings = {"Plan 9", "", "SunOS", "FreeBSD", "AIX"})
    void anUnknownOsIsUnsupportedOperationExceptionNamingIt(String osName) {
        assertThatThrownBy(() -> OsMemory.SystemMemory.forOsName(osName))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("os.name=" + osName);
    }

    /**
     * What this OS's name picks, checked on whichever OS runs it: one test with a branch per OS rather than a test per
     * OS, so that none is reported skipped on the others (a build's only warning line was that).
     */
    @Test
    void theOsNamesThisSystemCanBuildPickTheirMemory() {
        switch (OS.current()) {
            case LINUX -> {
                for (String osName : new String[] {"Linux", "linux", "LINUX"}) {
                    OsMemory memory = OsMemory.SystemMemory.forOsName(osName);
                    assertThat(memory).as(osName).isInstanceOf(PosixMemory.class);
                    assertThat(memory.pageSize()).isEqualTo(OsMemory.system().pageSize());
                }
                // On glibc, sysconf(29) is _SC_VERSION (a year and month such as 200809), not a page size: the
                // macOS branch was taken with the macOS numbers and PosixMemory refuses the answer.
                assertThatThrownBy(() -> OsMemory.SystemMemory.forOsName("Mac OS X"))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("macOS: sysconf(_SC_PAGESIZE) gave ");
            }
            case MAC -> assertThat(OsMemory.SystemMemory.forOsName("Mac OS X")).isInstanceOf(PosixMemory.class);
            case WINDOWS -> assertThat(OsMemory.SystemMemory.forOsName("Windows 11")).isInstanceOf(WindowsMemory.class);
            default -> assertThatThrownBy(OsMemory::system).isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    void systemIsOneSharedInstanceForThisOs() {
        OsMemory memory = OsMemory.system();

        assertThat(OsMemory.system()).isSameAs(memory);
        if (OS.current() == OS.WINDOWS) {
            assertThat(memory).isInstanceOf(WindowsMemory.class);
        } else {
            assertThat(memory).isInstanceOf(PosixMemory.class);
        }
    }
}
