// The contacts and calendar formats (not Google's own: any vCard or iCalendar file, Google Contacts
// and Calendar exports among them) as the registry (../registry.ts) knows them. Their ids keep the
// names they were stored under first. Detection only: nothing here imports a parser.
import { detectByOpening, parserAt, type Confidence, type Probe, type SourceEntry } from '../../source.js';

export const VCARD: SourceEntry = {
  id: 'google.contacts.vcf',
  description: 'vCard contacts (.vcf, Google Contacts export): versions 2.1, 3.0 and 4.0',
  detect(probe: Probe): Confidence | null {
    return detectByOpening(probe, /^BEGIN:VCARD\r?\n/i, /\.vcf$/i);
  },
  standalone: false,
  parser: parserAt(import.meta.url, './vcard.js', 'vcardSource'),
};

export const ICALENDAR: SourceEntry = {
  id: 'google.calendar.ics',
  description: 'iCalendar events (.ics, Google Calendar export), recurring events expanded',
  detect(probe: Probe): Confidence | null {
    return detectByOpening(probe, /^BEGIN:VCALENDAR\r?\n/i, /\.ics$/i);
  },
  standalone: false,
  parser: parserAt(import.meta.url, './icalendar.js', 'icalendarSource'),
};
