// Who sent a batch: the host's name, its id (machine-id, the address of its commands) and its boot.

export interface BatchHost {
  name: string;
  id?: string;
  bootId: string;
}
