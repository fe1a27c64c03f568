// What Takeout writes in My Activity HTML for each display language, as data: page titles, the
// caption labels (Products, Details, Locations, Why is this here?), the action words that open
// (or close) an entry, the date shapes with their month names, 12-hour markers and connecting
// words, and the zone abbreviations with their offsets. Read by takeout-dates.ts (dates),
// kinds.ts (actions → kinds) and html.ts (titles, labels).
//
// Where each piece comes from:
//   - seen in real exports: es (Ecuador, 2020), ca (2024), fr (2020) — the files described in
//     ../shared/fixtures/real/README.md; de (2025) from a public test that quotes a German page
//     (title "Mein Aktivitätsverlauf", "Gesucht nach:", "… aufgerufen", "13.01.2025, 08:38:09
//     MEZ", "Produkte:", "Standorte:", "Warum steht das hier?");
//   - everything else is Google's (CLDR's) medium date format for the language and Google's
//     wording as its interface shows it, not seen in an export. A wrong guess there costs
//     little by design: an unknown label or action only loses the kind (`activity`) or the
//     language evidence; an unknown date shape or zone is quarantined with its text.
//
// Zones: an abbreviation is read only in the languages listed for it, with the one offset it has
// where Takeout writes that language (CST is +08:00 on a Chinese page, US Central on an English
// one, and unread elsewhere: Mexico's and Cuba's CST differ). Abbreviations whose offset changed
// in the years Takeout printed zones (VET, Venezuela -04:30 until 2016) or that name two places
// (IST, AST, AMT, BST outside English) are in no table: such dates are quarantined. Takeout
// prints the export's zone and clock for every entry, so a fixed offset is right (see
// takeout-dates.ts). MSK is +03:00 (Moscow since October 2014; zones were first printed later).

export type ActivityLanguage =
  | 'en' | 'es' | 'ca' | 'fr' | 'de' | 'it' | 'pt' | 'nl' | 'pl' | 'ru' | 'tr' | 'ja' | 'ko' | 'zh-CN' | 'zh-TW' | 'sv' | 'id';

/** The English verb phrases of kinds.ts that localized actions translate to. */
export type CanonicalAction =
  | 'Searched for' | 'Watched' | 'Visited' | 'Viewed' | 'Used' | 'Listened to' | 'Liked' | 'Subscribed to'
  | 'Installed' | 'Said' | 'Shared' | 'Played' | 'Read' | 'Directions to'
  /** One word for both (es "Has visto", de "angesehen"): Watched under a YouTube header, else Viewed. */
  | 'Watched or Viewed';

export type CaptionLabel = 'Products' | 'Details' | 'Locations' | 'Why is this here?';

/** How the date part of a date line is written. */
export type DateShape =
  /** day, month name, year: "22 ene 2022", "22 de març 2024", "31 d'oct. 2023", "22. Jan. 2022", "22 янв. 2022 г." */
  | 'day-month-name-year'
  /** day, month, year in digits: "22.01.2022", "22/1/2022", "22-01-2022" */
  | 'day-month-year-digits'
  /** year, month, day in digits: "2022/01/22", "2022-01-22", "2022. 1. 22." */
  | 'year-month-day-digits'
  /** "2022年1月22日", "2022년 1월 22일" */
  | 'year-month-day-cjk';

export interface ActivityLocale {
  language: ActivityLanguage;
  /** Page titles (`<title>`) as Takeout writes them; only those seen in real exports. */
  titles: readonly string[];
  /** Month forms (lower case, no trailing dot), January first. */
  months: ReadonlyArray<readonly string[]>;
  dateShapes: readonly DateShape[];
  /** Separators between the digits of a digit date. */
  digitSeparators: string;
  /** Words that may stand between the date and the time, besides a comma or a space. */
  connectors: readonly string[];
  /** 12-hour markers, before or after the time → morning or afternoon. */
  meridiems: Readonly<Record<string, 'am' | 'pm'>>;
  /** Whether the time may be written with dots (id "00.07.31"). */
  timeDots: boolean;
  zones: Readonly<Record<string, number>>;
  captions: Readonly<Record<CaptionLabel, readonly string[]>>;
  /** Action phrases before the object ("Has buscado", "Gesucht nach:"). */
  actionsBefore: Readonly<Record<string, CanonicalAction>>;
  /** Action phrases after the object ("… aufgerufen", "… を視聴しました"). */
  actionsAfter: Readonly<Record<string, CanonicalAction>>;
}

const CENTRAL_EUROPE = { CET: 60, CEST: 120 };
const WESTERN_EUROPE = { WET: 0, WEST: 60 };
const EASTERN_EUROPE = { EET: 120, EEST: 180 };

const NO_MONTHS: ReadonlyArray<readonly string[]> = [];

const EN: ActivityLocale = {
  language: 'en',
  titles: ['My Activity', 'My Activity History'],
  // English dates are read by takeout-dates.ts's English parser (its own month and zone tables).
  months: NO_MONTHS,
  dateShapes: [],
  digitSeparators: '',
  connectors: [],
  meridiems: {},
  timeDots: false,
  zones: {},
  captions: { Products: ['Products'], Details: ['Details'], Locations: ['Locations'], 'Why is this here?': ['Why is this here?'] },
  actionsBefore: {},
  actionsAfter: {},
};

const ES: ActivityLocale = {
  language: 'es',
  titles: ['Mi historial de actividad'],
  months: [
    ['ene', 'enero'], ['feb', 'febrero'], ['mar', 'marzo'], ['abr', 'abril'], ['may', 'mayo'], ['jun', 'junio'],
    ['jul', 'julio'], ['ago', 'agosto'], ['sept', 'sep', 'set', 'septiembre', 'setiembre'], ['oct', 'octubre'],
    ['nov', 'noviembre'], ['dic', 'diciembre'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['a las', 'a la'],
  meridiems: { 'a. m.': 'am', 'a.m.': 'am', 'p. m.': 'pm', 'p.m.': 'pm' },
  timeDots: false,
  zones: {
    ...CENTRAL_EUROPE, ...WESTERN_EUROPE,
    // The Americas: Ecuador, Colombia, Peru, Argentina, Chile, Bolivia, Paraguay, Uruguay, and
    // the US and Mexican zones other than CST/CDT (Cuba's CST is -05:00).
    ECT: -300, COT: -300, PET: -300, ART: -180, CLT: -240, CLST: -180, BOT: -240, PYT: -240, PYST: -180, UYT: -180,
    EST: -300, EDT: -240, MST: -420, MDT: -360, PST: -480, PDT: -420,
  },
  captions: { Products: ['Productos'], Details: ['Detalles'], Locations: ['Ubicaciones'], 'Why is this here?': ['¿Por qué está aquí esta actividad?'] },
  actionsBefore: {
    'Has buscado': 'Searched for', Buscaste: 'Searched for',
    'Has visto': 'Watched or Viewed', Viste: 'Watched or Viewed', Miraste: 'Watched',
    'Has visitado': 'Visited', Visitaste: 'Visited',
    'Has usado': 'Used', Usaste: 'Used', 'Has utilizado': 'Used', Utilizaste: 'Used',
    'Has escuchado': 'Listened to', Escuchaste: 'Listened to',
    'Has instalado': 'Installed', Instalaste: 'Installed',
    'Has dicho': 'Said', Dijiste: 'Said',
    'Te has suscrito a': 'Subscribed to', 'Te suscribiste a': 'Subscribed to',
  },
  actionsAfter: {},
};

const CA: ActivityLocale = {
  language: 'ca',
  titles: ['Historial de la meva activitat'],
  months: [
    ['gen', 'gener'], ['febr', 'feb', 'febrer'], ['març', 'mar'], ['abr', 'abril'], ['maig'], ['juny'],
    ['jul', 'juliol'], ['ag', 'agost'], ['set', 'setembre'], ['oct', 'octubre'], ['nov', 'novembre'], ['des', 'desembre'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['a les', 'a la'],
  meridiems: { 'a. m.': 'am', 'a.m.': 'am', 'p. m.': 'pm', 'p.m.': 'pm' },
  timeDots: false,
  zones: { ...CENTRAL_EUROPE, ...WESTERN_EUROPE },
  captions: { Products: ['Productes'], Details: ['Detalls'], Locations: ['Ubicacions'], 'Why is this here?': ['Per què és aquí aquesta activitat?'] },
  actionsBefore: {
    'Has cercat': 'Searched for', 'Has vist': 'Watched or Viewed', 'Has visitat': 'Visited',
    'Has utilitzat': 'Used', "Has escoltat": 'Listened to', "T'has subscrit a": 'Subscribed to',
  },
  actionsAfter: {},
};

const FR: ActivityLocale = {
  language: 'fr',
  titles: ["Mon historique d'activité"],
  months: [
    ['janv', 'janvier'], ['févr', 'février'], ['mars'], ['avr', 'avril'], ['mai'], ['juin'],
    ['juil', 'juillet'], ['août'], ['sept', 'septembre'], ['oct', 'octobre'], ['nov', 'novembre'], ['déc', 'décembre'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['à'],
  meridiems: {},
  timeDots: false,
  zones: {
    ...CENTRAL_EUROPE, ...WESTERN_EUROPE,
    // Canada as CLDR's fr-CA names it (heure normale / avancée de l'Est, du Centre...), and the
    // English abbreviations Java prints there; French-speaking Africa.
    HNE: -300, HAE: -240, HNC: -360, HAC: -300, HNR: -420, HAR: -360, HNP: -480, HAP: -420, HNA: -240, HAA: -180,
    HNT: -210, HAT: -150, EST: -300, EDT: -240,
    WAT: 60, CAT: 120, EAT: 180,
  },
  captions: {
    Products: ['Produits'], Details: ['Détails'], Locations: ['Lieux', 'Emplacements'],
    'Why is this here?': ['Pourquoi cette activité apparaît-elle ici ?', 'Pourquoi cette activité figure-t-elle ici ?'],
  },
  actionsBefore: {
    'Vous avez regardé': 'Watched', 'Vous avez recherché': 'Searched for', 'Vous avez consulté': 'Visited',
    'Vous avez visité': 'Visited', 'Vous avez utilisé': 'Used', 'Vous avez écouté': 'Listened to', 'Vous avez aimé': 'Liked',
    'Vous vous êtes abonné à': 'Subscribed to', 'Vous avez installé': 'Installed', 'Vous avez dit': 'Said',
  },
  actionsAfter: {},
};

const DE: ActivityLocale = {
  language: 'de',
  titles: ['Mein Aktivitätsverlauf'],
  months: [
    ['jan', 'januar', 'jän', 'jänner'], ['feb', 'februar'], ['märz', 'mär'], ['apr', 'april'], ['mai'], ['juni', 'jun'],
    ['juli', 'jul'], ['aug', 'august'], ['sept', 'sep', 'september'], ['okt', 'oktober'], ['nov', 'november'], ['dez', 'dezember'],
  ],
  dateShapes: ['day-month-year-digits', 'day-month-name-year'],
  digitSeparators: '.',
  connectors: ['um'],
  meridiems: {},
  timeDots: false,
  zones: { MEZ: 60, MESZ: 120, WEZ: 0, WESZ: 60, OEZ: 120, OESZ: 180, ...CENTRAL_EUROPE },
  captions: { Products: ['Produkte'], Details: ['Details'], Locations: ['Standorte'], 'Why is this here?': ['Warum steht das hier?'] },
  actionsBefore: { 'Gesucht nach': 'Searched for' },
  actionsAfter: { aufgerufen: 'Visited', angesehen: 'Watched or Viewed', verwendet: 'Used', angehört: 'Listened to' },
};

const IT: ActivityLocale = {
  language: 'it',
  titles: [],
  months: [
    ['gen', 'gennaio'], ['feb', 'febbraio'], ['mar', 'marzo'], ['apr', 'aprile'], ['mag', 'maggio'], ['giu', 'giugno'],
    ['lug', 'luglio'], ['ago', 'agosto'], ['set', 'settembre'], ['ott', 'ottobre'], ['nov', 'novembre'], ['dic', 'dicembre'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['alle', 'ore'],
  meridiems: {},
  timeDots: false,
  zones: { ...CENTRAL_EUROPE },
  captions: { Products: ['Prodotti'], Details: ['Dettagli'], Locations: ['Luoghi', 'Posizioni'], 'Why is this here?': ['Perché questa attività è qui?'] },
  actionsBefore: {
    'Hai cercato': 'Searched for', 'Hai guardato': 'Watched', 'Hai visitato': 'Visited', 'Hai visualizzato': 'Viewed',
    'Hai utilizzato': 'Used', 'Hai usato': 'Used', 'Hai ascoltato': 'Listened to', 'Ti sei iscritto a': 'Subscribed to',
  },
  actionsAfter: {},
};

const PT: ActivityLocale = {
  language: 'pt',
  titles: [],
  months: [
    ['jan', 'janeiro'], ['fev', 'fevereiro'], ['mar', 'março'], ['abr', 'abril'], ['mai', 'maio'], ['jun', 'junho'],
    ['jul', 'julho'], ['ago', 'agosto'], ['set', 'setembro'], ['out', 'outubro'], ['nov', 'novembro'], ['dez', 'dezembro'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['às'],
  meridiems: {},
  timeDots: false,
  // Brazil (Brasília time; BRST until 2019), Portugal, Angola, Mozambique.
  zones: { BRT: -180, BRST: -120, ...WESTERN_EUROPE, WAT: 60, CAT: 120 },
  captions: { Products: ['Produtos'], Details: ['Detalhes'], Locations: ['Locais'], 'Why is this here?': ['Por que isso está aqui?'] },
  actionsBefore: {
    Pesquisou: 'Searched for', 'Você pesquisou': 'Searched for', Assistiu: 'Watched', 'Você assistiu': 'Watched',
    Visitou: 'Visited', 'Você visitou': 'Visited', Visualizou: 'Viewed', 'Você visualizou': 'Viewed',
    Usou: 'Used', 'Você usou': 'Used', Ouviu: 'Listened to', 'Você ouviu': 'Listened to',
  },
  actionsAfter: {},
};

const NL: ActivityLocale = {
  language: 'nl',
  titles: [],
  months: [
    ['jan', 'januari'], ['feb', 'februari'], ['mrt', 'maart'], ['apr', 'april'], ['mei'], ['jun', 'juni'],
    ['jul', 'juli'], ['aug', 'augustus'], ['sep', 'sept', 'september'], ['okt', 'oktober'], ['nov', 'november'], ['dec', 'december'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '-',
  connectors: ['om'],
  meridiems: {},
  timeDots: false,
  zones: { ...CENTRAL_EUROPE, SRT: -180 },
  captions: { Products: ['Producten'], Details: ['Details'], Locations: ['Locaties'], 'Why is this here?': ['Waarom staat dit hier?'] },
  actionsBefore: { 'Gezocht naar': 'Searched for', Bekeken: 'Watched or Viewed', Bezocht: 'Visited', Gebruikt: 'Used', 'Geluisterd naar': 'Listened to' },
  actionsAfter: {},
};

const PL: ActivityLocale = {
  language: 'pl',
  titles: [],
  months: [
    ['sty', 'stycznia', 'styczeń'], ['lut', 'lutego', 'luty'], ['mar', 'marca', 'marzec'], ['kwi', 'kwietnia', 'kwiecień'],
    ['maj', 'maja'], ['cze', 'czerwca', 'czerwiec'], ['lip', 'lipca', 'lipiec'], ['sie', 'sierpnia', 'sierpień'],
    ['wrz', 'września', 'wrzesień'], ['paź', 'października', 'październik'], ['lis', 'listopada', 'listopad'], ['gru', 'grudnia', 'grudzień'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '.',
  connectors: [],
  meridiems: {},
  timeDots: false,
  zones: { ...CENTRAL_EUROPE },
  captions: { Products: ['Produkty', 'Usługi'], Details: ['Szczegóły'], Locations: ['Lokalizacje'], 'Why is this here?': ['Dlaczego to jest tutaj?'] },
  actionsBefore: { Wyszukano: 'Searched for', Obejrzano: 'Watched', Odwiedzono: 'Visited', Wyświetlono: 'Viewed', Użyto: 'Used', Odsłuchano: 'Listened to' },
  actionsAfter: {},
};

const RU: ActivityLocale = {
  language: 'ru',
  titles: [],
  months: [
    ['янв', 'января', 'январь'], ['февр', 'фев', 'февраля', 'февраль'], ['мар', 'марта', 'март'], ['апр', 'апреля', 'апрель'],
    ['мая', 'май'], ['июн', 'июня', 'июнь'], ['июл', 'июля', 'июль'], ['авг', 'августа', 'август'],
    ['сент', 'сен', 'сентября', 'сентябрь'], ['окт', 'октября', 'октябрь'], ['нояб', 'ноя', 'ноября', 'ноябрь'], ['дек', 'декабря', 'декабрь'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '.',
  connectors: ['в'],
  meridiems: {},
  timeDots: false,
  // Russia's zones as Java abbreviates them (Moscow also in Cyrillic), Kaliningrad, Belarus.
  zones: {
    MSK: 180, МСК: 180, ...EASTERN_EUROPE, SAMT: 240, YEKT: 300, OMST: 360, NOVT: 420, KRAT: 420, IRKT: 480, YAKT: 540,
    VLAT: 600, MAGT: 660, PETT: 720,
  },
  captions: { Products: ['Сервисы', 'Продукты'], Details: ['Подробности', 'Сведения'], Locations: ['Местоположения'], 'Why is this here?': ['Почему это здесь?'] },
  actionsBefore: {
    'Вы искали': 'Searched for', 'Вы посмотрели': 'Watched', 'Вы смотрели': 'Watched',
    'Вы посетили': 'Visited', 'Вы просмотрели': 'Viewed', 'Вы использовали': 'Used', 'Вы прослушали': 'Listened to',
  },
  actionsAfter: {},
};

const TR: ActivityLocale = {
  language: 'tr',
  titles: [],
  months: [
    ['oca', 'ocak'], ['şub', 'şubat'], ['mar', 'mart'], ['nis', 'nisan'], ['may', 'mayıs'], ['haz', 'haziran'],
    ['tem', 'temmuz'], ['ağu', 'ağustos'], ['eyl', 'eylül'], ['eki', 'ekim'], ['kas', 'kasım'], ['ara', 'aralık'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '.',
  connectors: [],
  meridiems: {},
  timeDots: false,
  // Turkey: TRT (+03:00) since 2016, EET/EEST before.
  zones: { TRT: 180, ...EASTERN_EUROPE },
  captions: { Products: ['Ürünler'], Details: ['Ayrıntılar'], Locations: ['Konumlar'], 'Why is this here?': ['Bu etkinlik neden burada?'] },
  actionsBefore: {},
  actionsAfter: { 'için arama yapıldı': 'Searched for', izlendi: 'Watched', 'ziyaret edildi': 'Visited', kullanıldı: 'Used' },
};

const JA: ActivityLocale = {
  language: 'ja',
  titles: [],
  months: NO_MONTHS,
  dateShapes: ['year-month-day-digits', 'year-month-day-cjk'],
  digitSeparators: '/',
  connectors: [],
  meridiems: { 午前: 'am', 午後: 'pm' },
  timeDots: false,
  zones: { JST: 540 },
  captions: { Products: ['サービス', 'プロダクト'], Details: ['詳細'], Locations: ['場所'], 'Why is this here?': ['このアクティビティが表示される理由'] },
  actionsBefore: {},
  actionsAfter: {
    'を検索しました': 'Searched for', 'を視聴しました': 'Watched', 'にアクセスしました': 'Visited', 'を表示しました': 'Viewed',
    'を使用しました': 'Used', 'を再生しました': 'Listened to',
  },
};

const KO: ActivityLocale = {
  language: 'ko',
  titles: [],
  months: NO_MONTHS,
  dateShapes: ['year-month-day-digits', 'year-month-day-cjk'],
  digitSeparators: '.',
  connectors: [],
  meridiems: { 오전: 'am', 오후: 'pm' },
  timeDots: false,
  zones: { KST: 540 },
  captions: { Products: ['제품', '서비스'], Details: ['세부정보'], Locations: ['위치'], 'Why is this here?': ['이 활동이 여기에 표시되는 이유'] },
  actionsBefore: {},
  actionsAfter: {
    '을(를) 검색했습니다': 'Searched for', '을(를) 시청했습니다': 'Watched', '을(를) 방문했습니다': 'Visited',
    '을(를) 조회했습니다': 'Viewed', '을(를) 사용했습니다': 'Used',
  },
};

// Chinese pages: 12-hour clocks say 上午/下午, or (CLDR's flexible day periods) 凌晨 before dawn,
// 早上/清晨 early morning, 中午 around noon, 晚上 in the evening, 午夜 at midnight.
const CHINESE_MERIDIEMS: Readonly<Record<string, 'am' | 'pm'>> = {
  上午: 'am', 凌晨: 'am', 早上: 'am', 清晨: 'am', 午夜: 'am', 下午: 'pm', 中午: 'pm', 晚上: 'pm', 傍晚: 'pm',
};

const ZH_CN: ActivityLocale = {
  language: 'zh-CN',
  titles: [],
  months: NO_MONTHS,
  dateShapes: ['year-month-day-cjk', 'year-month-day-digits'],
  digitSeparators: '/-',
  connectors: [],
  meridiems: CHINESE_MERIDIEMS,
  timeDots: false,
  // China Standard Time as Java abbreviates it; Hong Kong, Singapore, Malaysia.
  zones: { CST: 480, HKT: 480, SGT: 480, MYT: 480 },
  captions: { Products: ['产品'], Details: ['详细信息', '详情'], Locations: ['位置'], 'Why is this here?': ['为什么会显示此活动？', '为什么显示此活动？'] },
  actionsBefore: {
    搜索了: 'Searched for', 已搜索: 'Searched for', 观看了: 'Watched', 已观看: 'Watched', 访问了: 'Visited', 已访问: 'Visited',
    查看了: 'Viewed', 已查看: 'Viewed', 使用了: 'Used', 已使用: 'Used', 收听了: 'Listened to',
  },
  actionsAfter: {},
};

const ZH_TW: ActivityLocale = {
  language: 'zh-TW',
  titles: [],
  months: NO_MONTHS,
  dateShapes: ['year-month-day-cjk', 'year-month-day-digits'],
  digitSeparators: '/-',
  connectors: [],
  meridiems: CHINESE_MERIDIEMS,
  timeDots: false,
  // Taiwan's time as Java abbreviates it (CST, +08:00), Hong Kong.
  zones: { CST: 480, HKT: 480 },
  captions: { Products: ['產品'], Details: ['詳細資料', '詳細資訊'], Locations: ['位置'], 'Why is this here?': ['為什麼會顯示這項活動？'] },
  actionsBefore: {
    搜尋了: 'Searched for', 已搜尋: 'Searched for', 觀看了: 'Watched', 已觀看: 'Watched', 造訪了: 'Visited', 已造訪: 'Visited',
    查看了: 'Viewed', 已查看: 'Viewed', 使用了: 'Used', 已使用: 'Used', 收聽了: 'Listened to',
  },
  actionsAfter: {},
};

const SV: ActivityLocale = {
  language: 'sv',
  titles: [],
  months: [
    ['jan', 'januari'], ['feb', 'februari'], ['mars', 'mar'], ['apr', 'april'], ['maj'], ['juni', 'jun'],
    ['juli', 'jul'], ['aug', 'augusti'], ['sep', 'sept', 'september'], ['okt', 'oktober'], ['nov', 'november'], ['dec', 'december'],
  ],
  dateShapes: ['day-month-name-year', 'year-month-day-digits'],
  digitSeparators: '-',
  connectors: ['kl.'],
  meridiems: {},
  timeDots: false,
  zones: { ...CENTRAL_EUROPE, ...EASTERN_EUROPE },
  captions: { Products: ['Produkter'], Details: ['Detaljer', 'Information'], Locations: ['Platser'], 'Why is this here?': ['Varför visas detta här?'] },
  actionsBefore: {
    'Sökte efter': 'Searched for', 'Sökt efter': 'Searched for', 'Tittade på': 'Watched', 'Har tittat på': 'Watched',
    Besökte: 'Visited', Besökt: 'Visited', Visade: 'Viewed', Använde: 'Used', Använt: 'Used', 'Lyssnade på': 'Listened to',
  },
  actionsAfter: {},
};

const ID: ActivityLocale = {
  language: 'id',
  titles: [],
  months: [
    ['jan', 'januari'], ['feb', 'februari'], ['mar', 'maret'], ['apr', 'april'], ['mei'], ['jun', 'juni'],
    ['jul', 'juli'], ['agu', 'agt', 'agustus'], ['sep', 'sept', 'september'], ['okt', 'oktober'], ['nov', 'november'], ['des', 'desember'],
  ],
  dateShapes: ['day-month-name-year', 'day-month-year-digits'],
  digitSeparators: '/',
  connectors: ['pukul'],
  meridiems: {},
  timeDots: true,
  zones: { WIB: 420, WITA: 480, WIT: 540 },
  captions: { Products: ['Produk'], Details: ['Detail'], Locations: ['Lokasi'], 'Why is this here?': ['Mengapa aktivitas ini ada di sini?'] },
  actionsBefore: { Menelusuri: 'Searched for', Mencari: 'Searched for', Menonton: 'Watched', Mengunjungi: 'Visited', Melihat: 'Viewed', Menggunakan: 'Used', Mendengarkan: 'Listened to' },
  actionsAfter: {},
};

/** Every language read, English first. */
export const ACTIVITY_LOCALES: readonly ActivityLocale[] = [EN, ES, CA, FR, DE, IT, PT, NL, PL, RU, TR, JA, KO, ZH_CN, ZH_TW, SV, ID];

export const ACTIVITY_LANGUAGES: readonly ActivityLanguage[] = ACTIVITY_LOCALES.map((locale) => locale.language);

const LOCALE_BY_LANGUAGE = new Map(ACTIVITY_LOCALES.map((locale) => [locale.language, locale]));

export function activityLocale(language: ActivityLanguage): ActivityLocale {
  return LOCALE_BY_LANGUAGE.get(language) as ActivityLocale;
}

/** Text as compared here: white space runs (NBSP, U+202F...) as one space, curly apostrophes straight. */
export function normalizeWording(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[\u2019\u02bc]/g, "'").trim();
}

/** A label or action without its closing colon (":", " :", "：") and in lower case, for lookups. */
function lookupForm(text: string): string {
  return normalizeWording(text).replace(/\s*[:：]$/, '').toLowerCase();
}

function indexBy<T>(pairs: Array<[string, T]>): Map<string, T[]> {
  const index = new Map<string, T[]>();
  for (const [text, value] of pairs) {
    const key = lookupForm(text);
    const values = index.get(key) ?? [];
    if (!values.includes(value)) values.push(value);
    index.set(key, values);
  }
  return index;
}

const TITLE_LANGUAGES = indexBy(ACTIVITY_LOCALES.flatMap((locale) => locale.titles.map((title): [string, ActivityLanguage] => [title, locale.language])));
const LABEL_INDEX = indexBy(
  ACTIVITY_LOCALES.flatMap((locale) =>
    (Object.entries(locale.captions) as Array<[CaptionLabel, readonly string[]]>).flatMap(([label, texts]) =>
      texts.map((text): [string, { label: CaptionLabel; language: ActivityLanguage }] => [text, { label, language: locale.language }]),
    ),
  ),
);

/** The languages whose page title this is; empty when it is not a title seen in an export. */
export function languagesOfTitle(title: string): readonly ActivityLanguage[] {
  return TITLE_LANGUAGES.get(lookupForm(title)) ?? [];
}

/** A caption label ("Productos:", "Produits :") → what it means and the languages that write it; null when unknown. */
export function captionLabel(text: string): { label: CaptionLabel; languages: ActivityLanguage[] } | null {
  const entries = LABEL_INDEX.get(lookupForm(text));
  if (!entries) return null;
  return { label: (entries[0] as { label: CaptionLabel }).label, languages: entries.map((entry) => entry.language) };
}

export interface LocalizedAction {
  /** The phrase as listed ("Has buscado"). */
  phrase: string;
  canonical: CanonicalAction;
  languages: ActivityLanguage[];
  position: 'before' | 'after';
}

function actionIndex(position: 'before' | 'after'): Map<string, LocalizedAction> {
  const index = new Map<string, LocalizedAction>();
  for (const locale of ACTIVITY_LOCALES) {
    const table = position === 'before' ? locale.actionsBefore : locale.actionsAfter;
    for (const [phrase, canonical] of Object.entries(table)) {
      const key = lookupForm(phrase);
      const known = index.get(key);
      if (known) {
        if (known.canonical !== canonical) throw new Error(`action ${phrase} means ${known.canonical} and ${canonical}`);
        known.languages.push(locale.language);
      } else index.set(key, { phrase, canonical, languages: [locale.language], position });
    }
  }
  return index;
}

const ACTIONS_BEFORE = actionIndex('before');
const ACTIONS_AFTER = actionIndex('after');
/** Longest first, so that "Has visto" is not taken for a shorter phrase it starts with. */
const BEFORE_BY_LENGTH = [...ACTIONS_BEFORE.keys()].sort((a, b) => b.length - a.length);
const AFTER_BY_LENGTH = [...ACTIONS_AFTER.keys()].sort((a, b) => b.length - a.length);

/** The localized action a whole phrase is ("Has buscado", "Gesucht nach:"), before or after the object. */
export function localizedAction(text: string, position: 'before' | 'after'): LocalizedAction | null {
  return (position === 'before' ? ACTIONS_BEFORE : ACTIONS_AFTER).get(lookupForm(text)) ?? null;
}

const SPACE_AFTER = /^[\s:：]/u;
const CJK = /[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/u;

/**
 * Splits a first line without a link ("Vous avez regardé la story de X", "X angesehen") into its
 * localized action and the object. A phrase before the object must be followed by white space or
 * a colon, one after it preceded by white space (or be Chinese, Japanese or Korean, written
 * without spaces). Null when no known phrase opens or closes the line.
 */
export function splitLocalizedTitle(title: string): { action: LocalizedAction; written: string; object: string } | null {
  const text = normalizeWording(title);
  const lower = text.toLowerCase();
  for (const key of BEFORE_BY_LENGTH) {
    if (!lower.startsWith(key)) continue;
    const rest = text.slice(key.length);
    if (rest !== '' && !SPACE_AFTER.test(rest) && !CJK.test(key)) continue;
    return { action: ACTIONS_BEFORE.get(key) as LocalizedAction, written: text.slice(0, key.length), object: rest.replace(/^[\s:：]+/u, '').trim() };
  }
  for (const key of AFTER_BY_LENGTH) {
    if (!lower.endsWith(key)) continue;
    const rest = text.slice(0, text.length - key.length);
    if (rest !== '' && !/\s$/u.test(rest) && !CJK.test(key)) continue;
    return { action: ACTIONS_AFTER.get(key) as LocalizedAction, written: text.slice(text.length - key.length), object: rest.trim() };
  }
  return null;
}
