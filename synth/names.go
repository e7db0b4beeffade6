package synth

// Name and place lists for the synthetic identifiers. Names get numeric
// suffixes (Maria412), so their commonness here does not matter.

var givenMale = []string{
	"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
	"Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
	"Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan",
	"Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
	"Carlos", "Luis", "Jose", "Juan", "Miguel", "Wei", "Hiroshi", "Ahmed", "Kwame", "Dmitri",
	"Raj", "Tomasz", "Liam", "Noah", "Mateo", "Omar", "Paris", "Todd", "Lynwood", "Antonio",
}

var givenFemale = []string{
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
	"Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
	"Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
	"Maria", "Guadalupe", "Sofia", "Valentina", "Mei", "Yuki", "Fatima", "Amara", "Olga", "Priya",
	"Agnieszka", "Aisha", "Carolee", "Vanesa", "Luisa", "Antonia", "Johnetta", "Lindsey", "Terrie", "Sunny",
}

// families include an apostrophe and a hyphen: code and files must cope.
var families = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
	"Kowalski", "Okafor", "Yamamoto", "Chen", "Patel", "Ivanova", "Haddad", "Lindgren", "Sanford", "Marquardt",
	"O'Reilly", "Powlowski", "Skiles", "Stamm", "Lakin", "Ruelas", "Carranza", "Grant", "Okuneva", "Smith-Jones",
}

var streets = []string{
	"Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main",
	"Johnston", "Sunset", "River", "Church", "Mill", "Spring", "Ridge", "Meadow", "Forest", "Highland",
	"Lincoln", "Jefferson", "Madison", "Franklin", "Walnut", "Chestnut", "Willow", "Bayview", "Harbor", "Prairie",
}

var streetTypes = []string{"St", "Ave", "Rd", "Blvd", "Way", "Lane", "Court", "Drive", "Place", "Camp"}

type place struct{ city, state, zip string }

var places = []place{
	{"Redmond", "WA", "98052"}, {"Kenmore", "WA", "98028"}, {"Seattle", "WA", "98101"}, {"Spokane", "WA", "99201"},
	{"Cambridge", "MA", "02139"}, {"Boston", "MA", "02115"}, {"New York", "NY", "10001"}, {"Brooklyn", "NY", "11201"},
	{"Chicago", "IL", "60614"}, {"San Francisco", "CA", "94110"}, {"Los Angeles", "CA", "90012"}, {"San Diego", "CA", "92101"},
	{"Atlanta", "GA", "30303"}, {"Houston", "TX", "77002"}, {"Austin", "TX", "78701"}, {"Phoenix", "AZ", "85004"},
	{"Philadelphia", "PA", "19104"}, {"Pittsburgh", "PA", "15213"}, {"Detroit", "MI", "48201"}, {"Denver", "CO", "80202"},
	{"Miami", "FL", "33101"}, {"Tampa", "FL", "33602"}, {"Portland", "OR", "97201"}, {"Minneapolis", "MN", "55455"},
	{"Nashville", "TN", "37203"}, {"St. Louis", "MO", "63110"}, {"Chapel Hill", "NC", "27514"}, {"Madison", "WI", "53703"},
	{"Salt Lake City", "UT", "84101"}, {"Baltimore", "MD", "21201"}, {"Newark", "NJ", "07102"}, {"Hartford", "CT", "06103"},
	{"Burlington", "VT", "05401"}, {"Omaha", "NE", "68102"}, {"Albuquerque", "NM", "87102"}, {"Las Vegas", "NV", "89101"},
	{"Cheyenne", "WY", "82001"}, {"Amarillo", "TX", "79101"}, {"Duluth", "MN", "55802"}, {"Concord", "NH", "03301"},
}

// restrictedPlaces are in 3-digit ZIP areas of 20,000 people or fewer,
// which Safe Harbor turns into 000.
var restrictedPlaces = []place{
	{"Charlestown", "NH", "03603"}, {"Canaan", "VT", "05903"}, {"Pawcatuck", "CT", "06379"},
	{"Bronx", "NY", "10275"}, {"Washington", "DC", "20301"}, {"Grand Marais", "MN", "55604"},
	{"Valentine", "NE", "69201"}, {"Perryton", "TX", "79070"}, {"Yellowstone National Park", "WY", "82190"},
	{"Rawlins", "WY", "82301"}, {"Jackson", "WY", "83001"}, {"Big Piney", "WY", "83113"},
	{"Socorro", "NM", "87801"}, {"Truth or Consequences", "NM", "87901"}, {"Tucumcari", "NM", "88401"},
	{"Alamo", "NV", "89001"}, {"Ely", "NV", "89301"},
}
