SELECT walmon_refresh();
