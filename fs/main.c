// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - ipcfs: every IPC object a directory, every IPC operation a file
 * operation.
 *
 *   $ ipcfs /mnt/ipc && mkdir /mnt/ipc/queues/jobs
 *   $ echo build > /mnt/ipc/queues/jobs/data; cat /mnt/ipc/queues/jobs/data
 *   build
 *
 * Start-up order matters: kinds are set up (and bad options refused) before
 * anything is mounted; the event loop thread starts after main_daemonize()
 * forks, since threads do not survive a fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/*
 * Thousands of parked opens each hold a descriptor or two. They are shared
 * fairly: one user may have a quarter of them (-o max_user_files), and an
 * eighth is kept for what is no open file (listing, attributes, mkdir).
 */
static void main_raise_nofile(void)
{
	struct rlimit rl;
	long nofile = 1L << 20;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nofile)
		nofile = rl.rlim_cur;
	fs_conf.max_files = nofile - nofile / 8;
	if (!fs_conf.max_user_files)
		fs_conf.max_user_files = nofile / 4;
}

/* The engine, then its kinds; on failure, what was set up is undone. */
static int main_kinds_init(void)
{
	const struct ipc_engine *e = fs_conf.engine;
	size_t i;
	int ret;

	ret = e->init ? e->init() : 0;
	if (ret < 0) {
		fprintf(stderr, "ipcfs: cannot set up the %s engine: %s\n",
			e->name, strerror(-ret));
		return ret;
	}
	for (i = 0; e->kinds[i]; i++) {
		ret = fs_kind_check(e->kinds[i]);
		if (ret == 0 && e->kinds[i]->init)
			ret = e->kinds[i]->init();
		if (ret < 0) {
			fprintf(stderr, "ipcfs: cannot set up %s: %s\n",
				e->kinds[i]->name, strerror(-ret));
			while (i--)
				if (e->kinds[i]->fini)
					e->kinds[i]->fini();
			if (e->fini)
				e->fini();
			return ret;
		}
	}
	return 0;
}

static void main_kinds_fini(void)
{
	const struct ipc_engine *e = fs_conf.engine;
	size_t i;

	for (i = 0; e->kinds[i]; i++)
		if (e->kinds[i]->fini)
			e->kinds[i]->fini();
	if (e->fini)
		e->fini();
}

/*
 * fuse_daemonize(), but the daemon itself says where its messages go, on
 * the caller's stderr, before letting go of it: the file it writes is named
 * for its PID, which only the child knows. The parent exits once the child
 * is ready, as fuse_daemonize's does: 0, or 1 if the child died first.
 */
static int main_daemonize(void)
{
	int fds[2], nullfd, ret;
	ssize_t n;
	char c = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid > 0) {
		/* A signal (our handlers are set) must not end the wait. */
		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		perror("ipcfs: setsid");
	if (chdir("/") < 0)
		perror("ipcfs: chdir /");
	fs_log_daemonized();
	nullfd = open("/dev/null", O_RDWR);
	if (nullfd >= 0) {
		dup2(nullfd, 0);
		dup2(nullfd, 1);
		dup2(nullfd, 2);
		if (nullfd > 2)
			close(nullfd);
	}
	if (write(fds[1], &c, 1) != 1) {
		/* The parent is gone: nobody waits for the word. */
	}
	close(fds[1]);
	return 0;
}

static int main_loop(struct fuse_session *se, struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (opts->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
	/* UINT_MAX: not given, keep libfuse's default. */
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	if (opts->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_session *se;
	struct stat st;
	char *mnt = NULL;
	int err, ret = 1;

	if (fs_options_parse(&args) < 0)
		goto out_args;
	if (fs_conf.show_help) {
		fs_options_help(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (fs_conf.show_version) {
		printf("ipcfs version %s\n", IPCFS_VERSION);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (!fs_conf.mountpoint) {
		fprintf(stderr, "usage: %s [options] MOUNTPOINT (see --help)\n",
			argv[0]);
		goto out_opts;
	}
	/* FUSE would mount on a file too: a tree that answers EIO. */
	mnt = realpath(fs_conf.mountpoint, NULL);
	err = !mnt || stat(mnt, &st) < 0 ? errno
	      : S_ISDIR(st.st_mode)	 ? 0
					 : ENOTDIR;
	if (err) {
		fprintf(stderr, "ipcfs: %s: %s\n", fs_conf.mountpoint,
			strerror(err));
		goto out_opts;
	}
	/* -o log=: before anything else may say something. */
	if (fs_conf.log && fs_log_open(fs_conf.log) < 0)
		goto out_opts;
	fuse_opt_add_arg(&args, "-ofsname=ipcfs,subtype=ipcfs");
	if (fs_conf.default_permissions)
		fuse_opt_add_arg(&args, "-odefault_permissions");

	/* Objects get exactly the mode mkdir asked for. */
	umask(0);
	main_raise_nofile();
	if (fs_loop_init() < 0) {
		ipc_log("cannot make the event loop: %s", strerror(errno));
		goto out_opts;
	}
	if (main_kinds_init() < 0)
		goto out_loop;
	err = fs_node_init();
	if (err < 0) {
		fprintf(stderr, "ipcfs: cannot make the tree: %s\n",
			strerror(-err));
		goto out_kinds;
	}

	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	if (!se)
		goto out_kinds;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, mnt) != 0)
		goto out_signals;
	if (opts.foreground) {
		if (fs_conf.log)
			fprintf(stderr, "ipcfs: messages go to %s\n",
				fs_log_where());
		if (chdir("/") < 0)
			ipc_log("chdir /: %s", strerror(errno));
	} else {
		ret = main_daemonize();
		if (ret < 0) {
			ipc_log("cannot detach: %s", strerror(-ret));
			ret = 1;
			goto out_unmount;
		}
	}
	fs_log_started(mnt);
	ret = fs_park_start_loop();
	if (ret < 0) {
		ipc_log("cannot start the event loop: %s", strerror(-ret));
		ret = 1;
		goto out_unmount;
	}
	if (fs_notify_start(se) < 0)
		ipc_log("cannot start the notifier thread: an object removed natively stays listed up to 1 s, and a chmod or truncate of a data file's path may wait for a writer parked on it");
	ret = main_loop(se, &opts) != 0;
	fs_notify_stop();
	fs_park_stop_loop();
	/* Pollers go with their files: then no helper has anybody to serve. */
	fs_files_release_all();
	fs_dirs_release_all();
	fs_helpers_drain();
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_kinds:
	fs_node_fini();
	main_kinds_fini();
out_loop:
	fs_loop_fini();
out_opts:
	free(mnt);
	free(opts.mountpoint);
out_args:
	fs_log_close();
	fs_options_free();
	fuse_opt_free_args(&args);
	return ret;
}
