"""A throwaway PostgreSQL cluster for the tests: made with initdb in a
temporary folder, started with pg_ctl on a free loopback port (as the
unprivileged user `postgres` when the tests run as root: PostgreSQL
refuses to run as root), with durability off (the data is thrown away),
and removed when the test process exits. Each server a test starts gets
a database of its own (new_database)."""
import atexit
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

from ports import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "vitrine"
NULL = "\u2400NULL\u2400"  # how psql is told to print NULL (no row holds it)

_cluster = None
_names = itertools.count(1)


class Cluster:
    """password: password authentication (scram-sha-256) instead of trust."""

    def __init__(self, password=None):
        self.password = password
        self.root = tempfile.mkdtemp(prefix="vitrine-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "postgres.log")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.root, 0o700)
        auth = ["--auth=trust"]
        if password:
            pwfile = os.path.join(self.root, "pwfile")
            with open(pwfile, "w") as f:
                f.write(password + "\n")
            if self.as_user:
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            auth = ["--auth=scram-sha-256", "--pwfile", pwfile]
        self._run(["initdb", "-D", self.data, "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"] + auth)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n".join([
                "listen_addresses = '127.0.0.1'",
                f"port = {self.port}",
                f"unix_socket_directories = '{self.root}'",
                "fsync = off", "synchronous_commit = off", "full_page_writes = off",
                "max_connections = 500", "shared_buffers = 64MB",
                "log_min_messages = warning", "log_min_error_statement = panic",
            ]) + "\n")
        self.start()
        atexit.register(self.remove)

    def _run(self, cmd, check=True):
        cmd = self.as_user + [os.path.join(PG_BIN, cmd[0])] + cmd[1:]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError("%s failed: %s%s" % (cmd, out.stdout, out.stderr))
        return out

    def start(self):
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start"])

    def stop(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], check=False)

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def url(self, database, password=None):
        password = password or self.password
        user = f"{SUPERUSER}:{password}" if password else SUPERUSER
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        self.sql("postgres", "CREATE DATABASE " + name)
        return self.url(name)

    def sql(self, database, query):
        """Runs query with psql; returns its rows as lists of strings (None
        for NULL)."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=" + NULL,
                              "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-f", "-"],
                             input=query, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("psql failed: " + out.stderr)
        return [[None if v == NULL else v for v in line.split("\x1f")] for line in out.stdout.splitlines() if line]


def cluster():
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
        # a test run ended by SIGTERM (a CI timeout) still removes it
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    return _cluster


def new_database():
    """Creates an empty database; returns (name, URL)."""
    name = "t%d_%d" % (os.getpid(), next(_names))
    return name, cluster().create_database(name)


def enabled():
    """Whether this test run uses PostgreSQL (VITRINE_TEST_DB=postgresql)."""
    return os.environ.get("VITRINE_TEST_DB", "sqlite") == "postgresql"
