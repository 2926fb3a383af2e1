/**
 * MemAlloc's JMH benchmarks, side by side with what users would pick instead: the JDK's arenas and slicing
 * allocator, libc, jemalloc and mimalloc through FFM, and Netty's pooled allocator. Run with {@code ./bench MODE}
 * from the repository root; {@code module-info-docs/performance.md} has the latest results.
 *
 * <p>Compiled as a module, run on the class path: JMH forks its JVMs with the class path only. Open, so that JMH
 * can reach the generated classes by reflection.
 */
@SuppressWarnings("requires-automatic") // jmh-core and XChart have no module descriptor
open module io.memalloc.bench {
    requires io.memalloc;
    requires jmh.core;
    requires io.netty.buffer;
    requires io.netty.common;
    requires org.knowm.xchart;
    requires com.google.gson;
    requires java.desktop;
}
