// A calendar window at an unusual edge (a DST change, an odd offset, a leap month), for the tests that check
// the stores and the ledger's rebuild count it where it really begins and ends.

export interface CalendarEdge {
  name: string;
  timezone: string;
  unit: 'day' | 'month';
  /** The window's first and first-after-last instants, in UTC. */
  start: string;
  end: string;
}
