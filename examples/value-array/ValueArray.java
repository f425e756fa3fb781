// SPDX-License-Identifier: GPL-2.0-or-later
// Classic pattern: multiprocessing.Value and Array, in Java. A writer
// process sets value = 5 and arr[i] = i * 2, a reader process prints them;
// then worker processes increment a Value under its lock, and no increment
// is lost. The processes are this class run again (ProcessBuilder) with a
// role.
//
// Through ipcfs: a Value or an Array of ints is a POSIX shared memory
// segment, shm/NAME, made with mkdir (Files.createDirectory); its lock is
// the semaphore sem/NAME (value 1):
//   get/set element i -> FileChannel.read/write(buf, 4 * i): pread/pwrite
//                        of shm/NAME/data, native-endian ints, the same
//                        bytes as value_array.py's
//   lock / unlock     -> open sem/NAME/hold (takes the unit, waiting for
//                        it) / close it (gives it back, as any death does)
// The segment is opened READ + WRITE and never TRUNCATE_EXISTING: O_TRUNC
// would resize it to nothing.
//
//   usage: java ValueArray MNT

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

public class ValueArray {
	static final int WORKERS = 4, INCREMENTS = 250;
	static Path mnt;

	/** multiprocessing.Array('i') on shm/NAME, locked by sem/NAME. */
	static class IntArray {
		final Path data, hold, shm, sem;

		IntArray(String name) {
			shm = mnt.resolve("shm").resolve(name);
			sem = mnt.resolve("sem").resolve(name);
			data = shm.resolve("data");
			hold = sem.resolve("hold");
		}

		static IntArray create(String name, int... init) throws IOException {
			IntArray a = new IntArray(name);
			Files.createDirectory(a.shm);
			Files.createDirectory(a.sem);
			for (int i = 0; i < init.length; i++)
				a.set(i, init[i]);
			return a;
		}

		int length() throws IOException {
			return (int) (Files.size(data) / 4);
		}

		int get(int i) throws IOException {
			ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder());
			try (FileChannel f = FileChannel.open(data, StandardOpenOption.READ)) {
				f.read(b, 4L * i);
			}
			return b.getInt(0);
		}

		void set(int i, int x) throws IOException {
			ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder());
			b.putInt(0, x);
			try (FileChannel f = FileChannel.open(data, StandardOpenOption.WRITE)) {
				f.write(b, 4L * i);
			}
		}

		/** The lock: held until the returned channel is closed. */
		FileChannel lock() throws IOException {
			return FileChannel.open(hold, StandardOpenOption.READ);
		}

		void remove() throws IOException {
			Files.delete(shm); // rmdir
			Files.delete(sem);
		}
	}

	/** Run this class as each of ROLES, all at once: the worst status. */
	static int run(String... roles) throws Exception {
		List<Process> procs = new ArrayList<>();
		for (String role : roles) {
			ProcessBuilder pb = new ProcessBuilder(
					Path.of(System.getProperty("java.home"), "bin", "java").toString(),
					"-cp", System.getProperty("java.class.path"),
					"ValueArray", mnt.toString(), role);
			procs.add(pb.inheritIO().start());
		}
		int status = 0;
		for (Process p : procs)
			status = Math.max(status, p.waitFor());
		return status;
	}

	static void writer() throws IOException {
		IntArray val = new IntArray("value"), arr = new IntArray("array");
		val.set(0, 5);
		for (int i = 0; i < arr.length(); i++)
			arr.set(i, i * 2);
	}

	static void reader() throws IOException {
		IntArray val = new IntArray("value"), arr = new IntArray("array");
		StringBuilder s = new StringBuilder("[");
		for (int i = 0; i < arr.length(); i++)
			s.append(i > 0 ? ", " : "").append(arr.get(i));
		System.out.println("Value: " + val.get(0));
		System.out.println("Array: " + s + "]");
	}

	static void counter() throws IOException {
		IntArray count = new IntArray("count");
		for (int i = 0; i < INCREMENTS; i++) {
			try (FileChannel held = count.lock()) {
				count.set(0, count.get(0) + 1);
			}
		}
	}

	public static void main(String[] args) throws Exception {
		mnt = Path.of(args[0]);
		String role = args.length > 1 ? args[1] : "main";
		switch (role) {
		case "writer" -> writer();
		case "reader" -> reader();
		case "counter" -> counter();
		default -> {
			IntArray value = IntArray.create("value", 0);
			IntArray array = IntArray.create("array", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
			int status = run("writer");
			status = Math.max(status, run("reader"));
			IntArray count = IntArray.create("count", 0);
			String[] workers = new String[WORKERS];
			java.util.Arrays.fill(workers, "counter");
			status = Math.max(status, run(workers));
			System.out.printf("Counter: %d (%d workers x %d increments)%n",
					count.get(0), WORKERS, INCREMENTS);
			value.remove();
			array.remove();
			count.remove();
			System.exit(status);
		}
		}
	}
}
